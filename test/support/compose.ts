/**
 * compose.yaml read as `docker compose` reads it, without an engine: YAML with its anchors,
 * `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:?message}`, `${VAR?message}` and
 * `$$` interpolated from a given environment.
 */
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

export interface ComposeService {
  image?: string;
  build?: string | { context?: string; dockerfile?: string };
  environment?: Record<string, string | number | boolean | null> | string[];
  command?: string[] | string;
  healthcheck?: { test?: string[] | string };
  depends_on?: string[] | Record<string, { condition?: string }>;
  volumes?: string[];
  ports?: string[];
}

export interface ComposeFile {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

/** Interpolates one value; a `${VAR:?message}` with VAR unset fails as compose does. */
export function interpolate(value: string, env: Record<string, string | undefined>): string {
  return value.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (whole, braced?: string, op?: string, arg?: string, bare?: string) => {
    if (whole === '$$') return '$';
    const name = (braced ?? bare)!;
    const current = env[name];
    const unset = op?.startsWith(':') ? !current : current === undefined;
    if (op?.endsWith('-')) return unset ? (arg ?? '') : current!;
    if (op?.endsWith('?')) {
      if (unset) throw new Error(`compose: ${name} is required: ${arg}`);
      return current!;
    }
    return current ?? '';
  });
}

/** The file's value with every string interpolated (compose interpolates before anything else). */
function interpolateAll(node: unknown, env: Record<string, string | undefined>): unknown {
  if (typeof node === 'string') return interpolate(node, env);
  if (Array.isArray(node)) return node.map((n) => interpolateAll(n, env));
  if (node && typeof node === 'object') return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, interpolateAll(v, env)]));
  return node;
}

export function readCompose(file: string, env: Record<string, string | undefined>): ComposeFile {
  return interpolateAll(parse(readFileSync(file, 'utf8'), { merge: true }), env) as ComposeFile;
}

/** A service's environment as the container sees it (list or map form; null means unset). */
export function serviceEnv(service: ComposeService): Record<string, string> {
  const entries = Array.isArray(service.environment)
    ? service.environment.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)] as const)
    : Object.entries(service.environment ?? {}).filter(([, v]) => v !== null).map(([k, v]) => [k, String(v)] as const);
  return Object.fromEntries(entries);
}

export function dependsOn(service: ComposeService): Record<string, string | undefined> {
  const deps = service.depends_on ?? [];
  return Array.isArray(deps) ? Object.fromEntries(deps.map((d) => [d, undefined])) : Object.fromEntries(Object.entries(deps).map(([k, v]) => [k, v.condition]));
}
