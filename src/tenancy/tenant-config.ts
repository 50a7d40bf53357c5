/**
 * Per-tenant configuration: validating a section override, merging overrides over the
 * global defaults (tenant values win), and the secret fields, which are sealed at rest
 * with the tenant id and field bound as additional data and never shown again.
 */
import { badRequest } from '../core/errors.ts';
import type { SecretBox } from '../core/secret-box.ts';
import type { Tenant } from './tenant.ts';
import { deepFreeze, perTenantRecord } from './per-tenant-record.ts';
import { constraintViolations, GLOBAL_DEFAULTS, type TenantRole } from '../config/tenant-config-constraints.ts';
import { applyPolicy, BUILT_IN_POLICY, getPath, type PlatformPolicy } from '../config/platform-policy.ts';
import { CONFIG_SECTIONS, SECRET_PATHS, SECTION_SCHEMAS, type ConfigSection } from '../config/tenant-config-schema.ts';

/** What every answer shows instead of a secret; sending it back keeps the stored value. */
export const SECRET_MASK = '********';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => Boolean(v) && typeof v === 'object' && !Array.isArray(v);

/** Validates one section override: shape (unknown fields named), then platform floors and ceilings. */
export function parseSection(section: ConfigSection, input: unknown, tenant: TenantRole = {}): Obj {
  if (!isObj(input)) throw badRequest(`${section}: the body must be a JSON object`, 'invalid_config');
  const result = SECTION_SCHEMAS[section].safeParse(input);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => {
      const base = [section, ...issue.path.map(String)].join('.');
      // Name each unknown field in full, so the caller sees exactly what to remove.
      if (issue.code === 'unrecognized_keys') return issue.keys.map((k) => `${base}.${k}: unknown field`).join('; ');
      return `${base}: ${issue.message}`;
    });
    throw badRequest(problems.join('; '), 'invalid_config');
  }
  const value = result.data as Obj;
  const violations = constraintViolations(section, value, tenant);
  if (violations.length) throw badRequest(violations.join('; '), 'invalid_config');
  return value;
}

/** Objects merge key by key; anything else (arrays included) is replaced by the override. */
function deepMerge(base: unknown, override: unknown): unknown {
  if (!isObj(base) || !isObj(override)) return override === undefined ? base : override;
  const out: Obj = { ...base };
  for (const [k, v] of Object.entries(override)) out[k] = deepMerge(base[k], v);
  return out;
}

/** Each section merged once per tenant record, on first use (per-tenant-record.ts). */
const mergedSectionsOf = perTenantRecord((_tenant: TenantSettings) => new Map<ConfigSection, Readonly<Obj>>());

/** What a tenant's settings are made of: its overrides and the operator's policy its record was read under. */
export type TenantSettings = Pick<Tenant, 'config'> & Partial<Pick<Tenant, 'policy'>>;

/**
 * The section as the tenant runs with it: global defaults, the platform's defaults, its
 * overrides, then the platform's floors and ceilings. Shared: frozen.
 */
export function mergedSection(tenant: TenantSettings, section: ConfigSection): Readonly<Obj> {
  const sections = mergedSectionsOf(tenant);
  let merged = sections.get(section);
  if (!merged) {
    merged = deepFreeze(sectionUnder(tenant.policy ?? BUILT_IN_POLICY, tenant, section));
    sections.set(section, merged);
  }
  return merged;
}

/** The section as the tenant would run with it under `policy` (not cached: the preview of a policy change). */
export function sectionUnder(policy: PlatformPolicy, tenant: Pick<Tenant, 'config'>, section: ConfigSection): Obj {
  const overrides = tenant.config[section] ?? {};
  return applyPolicy(policy, section, overrides, deepMerge(GLOBAL_DEFAULTS[section], overrides) as Obj);
}

function parentOf(node: Obj, path: readonly string[]): Obj | undefined {
  const parent = getPath(node, path.slice(0, -1));
  return isObj(parent) ? parent : undefined;
}

/** The concrete paths (within the section) a secret field can have, given the objects present in `value`. */
function secretPaths(section: ConfigSection, value: Obj): string[][] {
  const out: string[][] = [];
  const walk = (node: unknown, pattern: readonly string[], path: string[]) => {
    if (!isObj(node)) return;
    const [head, ...rest] = pattern as [string, ...string[]];
    if (rest.length === 0) return void out.push([...path, head]);
    for (const key of head === '*' ? Object.keys(node) : [head]) walk(node[key], rest, [...path, key]);
  };
  for (const pattern of SECRET_PATHS) if (pattern[0] === section) walk(value, pattern.slice(1), []);
  return out;
}

const secretContext = (tenantId: string, section: ConfigSection, path: readonly string[]) => `tenant-config:${tenantId}:${[section, ...path].join('.')}`;

/**
 * The override to store for a validated section: new secrets sealed; a secret omitted
 * (its object present) or sent as the mask keeps the stored sealed value; null removes it.
 */
export function sealSection(box: SecretBox, tenant: Pick<Tenant, 'id' | 'config'>, section: ConfigSection, value: Obj): Obj {
  const out = structuredClone(value);
  const current = tenant.config[section];
  const stored = isObj(current) ? current : {};
  for (const path of secretPaths(section, out)) {
    const parent = parentOf(out, path)!;
    const key = path[path.length - 1]!;
    const sent = parent[key];
    if (sent === null) delete parent[key];
    else if (sent === undefined || sent === SECRET_MASK) {
      const previous = getPath(stored, path);
      if (typeof previous === 'string') parent[key] = previous;
      else delete parent[key];
    } else if (typeof sent === 'string') parent[key] = box.seal(sent, secretContext(tenant.id, section, path));
  }
  const missing = missingSecrets(section, out);
  if (missing.length) throw badRequest(missing.join('; '), 'invalid_config');
  return out;
}

/**
 * Secrets a switched-on feature cannot work without, checked once the stored ones are carried
 * over (a secret omitted or masked keeps the stored value, so the parsed body alone cannot
 * tell): an enabled social provider without its secret, or SMS without its token, is a 400.
 */
function missingSecrets(section: ConfigSection, value: Obj): string[] {
  const problems: string[] = [];
  if (section === 'features') {
    for (const [name, provider] of Object.entries(isObj(value.social) ? value.social : {})) {
      const field = name === 'apple' ? 'private_key' : 'client_secret';
      if (isObj(provider) && provider.enabled === true && typeof provider[field] !== 'string') problems.push(`features.social.${name}.${field}: required when enabled`);
    }
  }
  if (section === 'notifications' && isObj(value.sms) && value.sms.enabled === true && typeof value.sms.auth_token !== 'string') problems.push('notifications.sms.auth_token: required when enabled');
  return problems;
}

/**
 * The stored overrides with each sealed secret passed through `fn` (its value and seal
 * context): a tenant bundle opens them under the source's master key and seals them again
 * under the target's (runtime/tenant-transfer.ts).
 */
export function mapConfigSecrets(config: Obj, tenantId: string, fn: (value: string, context: string) => string): Obj {
  const out = structuredClone(config);
  for (const section of CONFIG_SECTIONS) {
    const value = out[section];
    if (!isObj(value)) continue;
    for (const path of secretPaths(section, value)) {
      const parent = parentOf(value, path)!;
      const key = path[path.length - 1]!;
      if (typeof parent[key] === 'string') parent[key] = fn(parent[key], secretContext(tenantId, section, path));
    }
  }
  return out;
}

/** A copy with every secret replaced by the mask. */
export function maskSection(section: ConfigSection, value: Obj): Obj {
  const out = structuredClone(value);
  for (const path of secretPaths(section, out)) {
    const parent = parentOf(out, path)!;
    const key = path[path.length - 1]!;
    if (typeof parent[key] === 'string') parent[key] = SECRET_MASK;
  }
  return out;
}

/** The merged configuration of every section, secrets masked: what the API shows. */
export function maskedConfig(tenant: Pick<Tenant, 'config'>): Record<ConfigSection, Obj> {
  return Object.fromEntries(CONFIG_SECTIONS.map((s) => [s, maskSection(s, mergedSection(tenant, s))])) as Record<ConfigSection, Obj>;
}

/** The plaintext of a secret field (e.g. `integrations.smtp.password`) for the code that uses it. */
export function openTenantSecret(box: SecretBox, tenant: Pick<Tenant, 'id' | 'config'>, field: string): string | undefined {
  const [section, ...path] = field.split('.') as [ConfigSection, ...string[]];
  const sealed = getPath(tenant.config[section], path);
  return typeof sealed === 'string' ? box.open(sealed, secretContext(tenant.id, section, path)) : undefined;
}
