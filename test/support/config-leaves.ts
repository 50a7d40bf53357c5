/**
 * The leaf paths of the per-tenant configuration, read from the zod schemas themselves
 * (SECTION_SCHEMAS), so a field added to a schema shows up here without anyone listing it.
 * A leaf is anything that is not an object or a record: a string, number, boolean, enum or
 * array. Records (`features.social`) are walked into their value type under the key `*`.
 */
import { z } from 'zod';
import { SECTION_SCHEMAS } from '../../src/config/tenant-config-schema.ts';

function walk(schema: z.ZodType, path: string, out: string[]): void {
  let inner: z.ZodType = schema;
  while (inner instanceof z.ZodOptional || inner instanceof z.ZodNullable) inner = inner.unwrap() as z.ZodType;
  if (inner instanceof z.ZodObject) {
    for (const [key, child] of Object.entries(inner.shape)) walk(child, `${path}.${key}`, out);
  } else if (inner instanceof z.ZodRecord) {
    walk(inner.valueType as z.ZodType, `${path}.*`, out);
  } else {
    out.push(path);
  }
}

/** Every leaf path of every section, e.g. `security.rate_limits.login_per_ip.limit`, `features.social.*.scopes`. */
export function configLeafPaths(sections: Record<string, z.ZodType> = SECTION_SCHEMAS): string[] {
  const out: string[] = [];
  for (const [section, schema] of Object.entries(sections)) walk(schema, section, out);
  return out;
}
