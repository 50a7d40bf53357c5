/**
 * Where an upstream claim is found in its claims (issue 14, item 3): a claim name as it
 * stands at the top level (`email`, or Auth0's namespaced `https://example.com/roles`), or
 * an RFC 6901 JSON Pointer into nested claims (`/realm_access/roles`, Keycloak's realm
 * roles; `/address/locality`). Our own dozen lines rather than a library: a pointer is
 * split on `/` and unescaped (`~1` then `~0`), and every step must be an own property, so a
 * pointer can never reach `__proto__` or an inherited member.
 */
import { z } from 'zod';

export const MAX_POINTER_DEPTH = 10;
const MAX_PATH_LENGTH = 300;

/** A claim path as the API takes it (the format only: whether it exists is known at sign-in). */
export const claimPath = z
  .string()
  .trim()
  .min(1)
  .max(MAX_PATH_LENGTH)
  .superRefine((path, ctx) => {
    if (!path.startsWith('/')) {
      if (!/^[A-Za-z0-9_.:/-]+$/.test(path)) ctx.addIssue({ code: 'custom', message: 'must be a claim name or a JSON Pointer such as /realm_access/roles' });
      return;
    }
    const steps = path.slice(1).split('/');
    if (steps.length > MAX_POINTER_DEPTH) ctx.addIssue({ code: 'custom', message: `must be at most ${MAX_POINTER_DEPTH} levels deep` });
    if (steps.some((s) => s === '' || /~(?![01])/.test(s))) ctx.addIssue({ code: 'custom', message: 'must be a JSON Pointer (RFC 6901) with no empty step' });
  });

/** The value at `path` in `claims`, or undefined when any step is missing. */
export function claimAt(claims: Record<string, unknown>, path: string): unknown {
  if (!path.startsWith('/')) return Object.hasOwn(claims, path) ? claims[path] : undefined;
  let here: unknown = claims;
  for (const raw of path.slice(1).split('/')) {
    const step = raw.replaceAll('~1', '/').replaceAll('~0', '~');
    if (Array.isArray(here)) {
      if (!/^(?:0|[1-9]\d{0,5})$/.test(step)) return undefined;
      here = here[Number(step)];
    } else if (here !== null && typeof here === 'object' && Object.hasOwn(here, step)) {
      here = (here as Record<string, unknown>)[step];
    } else {
      return undefined;
    }
  }
  return here;
}

/** Upstream group or role names found at a path: a list of strings, or one string (some upstreams send a single group as a string). */
export function namesAt(claims: Record<string, unknown>, path: string): string[] {
  const value = claimAt(claims, path);
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string');
  return [];
}
