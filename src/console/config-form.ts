/**
 * Configuration forms generated from the section schemas (config/tenant-config-schema.ts),
 * so a field added to a schema appears in the consoles with no page to write: the zod
 * schema is turned into JSON Schema (zod's own toJSONSchema) and every leaf becomes a field
 * named by its path (`cfg.password_policy.min_length`). The form's answer is turned back
 * into the section's overrides and validated by the same parseSection as the management
 * API; a blank field is "no override" (the default applies).
 *
 * Booleans are three-way (default, on, off), so a form never turns "not set" into "off".
 * Secrets are never shown: blank keeps the stored one (sent on as the mask, which
 * sealSection reads as "keep"); removing one is done in the raw JSON view with null.
 */
import { z } from 'zod';
import { SECRET_PATHS, SECTION_SCHEMAS, type ConfigSection } from '../config/tenant-config-schema.ts';
import { MFA_LEVELS, PLATFORM_FIELDS, type PlatformSection } from '../config/platform-policy.ts';
import { SECRET_MASK } from '../tenancy/tenant-config.ts';
import { text } from './console-forms.ts';

type Obj = Record<string, unknown>;
type FieldKind = 'boolean' | 'integer' | 'number' | 'text' | 'enum' | 'list' | 'choices' | 'secret';

interface JsonSchema {
  type?: string;
  properties?: Record<string, JsonSchema>;
  enum?: string[];
  items?: JsonSchema;
  anyOf?: JsonSchema[];
}

export interface ConfigField {
  path: string[];
  /** The form control's name. */
  name: string;
  kind: FieldKind;
  /** The choices of an enum or a list of enum values. */
  options?: string[];
}

/** A field with what the form shows: the override as typed or stored, and the value in force. */
export interface ConfigFieldView extends ConfigField {
  value: string;
  checked: string[];
  stored: boolean;
  effective: string;
}

export interface ConfigGroupView {
  /** The object the fields are in ('' for the section's top level). */
  label: string;
  fields: ConfigFieldView[];
}

const isObj = (v: unknown): v is Obj => Boolean(v) && typeof v === 'object' && !Array.isArray(v);
const getPath = (o: unknown, path: readonly string[]): unknown => path.reduce<unknown>((at, k) => (isObj(at) ? at[k] : undefined), o);

function isSecret(section: ConfigSection, path: readonly string[]): boolean {
  const full = [section, ...path];
  return SECRET_PATHS.some((p) => p.length === full.length && p.every((k, i) => k === '*' || k === full[i]));
}

function kindOf(section: ConfigSection, path: string[], schema: JsonSchema): Pick<ConfigField, 'kind' | 'options'> {
  if (isSecret(section, path)) return { kind: 'secret' };
  const s = schema.anyOf?.find((m) => m.type !== 'null') ?? schema;
  if (s.type === 'boolean') return { kind: 'boolean' };
  if (s.type === 'integer') return { kind: 'integer' };
  if (s.type === 'number') return { kind: 'number' };
  if (s.type === 'array') return s.items?.enum ? { kind: 'choices', options: s.items.enum } : { kind: 'list' };
  if (s.enum) return { kind: 'enum', options: s.enum };
  return { kind: 'text' };
}

function collect(section: ConfigSection, schema: JsonSchema, path: string[], out: ConfigField[]): void {
  for (const [key, child] of Object.entries(schema.properties ?? {})) {
    const at = [...path, key];
    if (child.type === 'object' && child.properties) collect(section, child, at, out);
    else out.push({ path: at, name: `cfg.${at.join('.')}`, ...kindOf(section, at, child) });
  }
}

/** Every section's fields, worked out once from its schema. */
const FIELDS = Object.fromEntries(
  (Object.keys(SECTION_SCHEMAS) as ConfigSection[]).map((section) => {
    const fields: ConfigField[] = [];
    collect(section, z.toJSONSchema(SECTION_SCHEMAS[section], { io: 'input', unrepresentable: 'any' }) as JsonSchema, [], fields);
    return [section, fields];
  }),
) as Record<ConfigSection, ConfigField[]>;

export const configFields = (section: ConfigSection): readonly ConfigField[] => FIELDS[section];

/** A value in force as short text for the form's hint. */
function shown(value: unknown): string {
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return value.map(shown).join(', ');
  return value === undefined || value === null ? '' : JSON.stringify(value);
}

/** What one field shows from stored overrides (masked) or, after a refused save, from the form as typed. */
function fieldView(field: ConfigField, overrides: Obj, effective: Obj, typed?: URLSearchParams): ConfigFieldView {
  const stored = getPath(overrides, field.path);
  const base = { ...field, stored: typeof stored === 'string' && field.kind === 'secret', effective: field.kind === 'secret' ? '' : shown(getPath(effective, field.path)), checked: [] as string[] };
  if (field.kind === 'secret') return { ...base, value: '' };
  if (typed) return { ...base, value: typed.get(field.name) ?? '', checked: typed.getAll(field.name) };
  if (field.kind === 'choices') return { ...base, value: '', checked: Array.isArray(stored) ? stored.map(String) : [] };
  if (field.kind === 'list') return { ...base, value: Array.isArray(stored) ? stored.join('\n') : '' };
  return { ...base, value: shown(stored) };
}

/**
 * The operator policy's fields of a platform section (config/platform-policy.ts), from the
 * same declaration its API validates with: one control per bound a tenant field takes, named
 * `cfg.<field>.<bound>` (`cfg.password_policy.min_length.floor`), so the form's answer is the
 * nested body PUT /api/v1/platform/config/:section takes. Blank is "the built-in value".
 */
export function platformPolicyFields(section: PlatformSection): ConfigField[] {
  return Object.entries(PLATFORM_FIELDS[section]).flatMap(([field, spec]) =>
    spec.kinds.map((bound): ConfigField => {
      const path = [...field.split('.'), bound];
      return { path, name: `cfg.${path.join('.')}`, ...(spec.type === 'level' ? { kind: 'enum', options: [...MFA_LEVELS] } : { kind: 'integer' }) };
    }),
  );
}

/** The section's fields grouped by the object they are in, ready for views/console/partials/config-form.ejs. */
export function configFormView(section: ConfigSection, overrides: Obj, effective: Obj, typed?: URLSearchParams): ConfigGroupView[] {
  return formGroups(FIELDS[section], overrides, effective, typed);
}

/** Any generated fields grouped by the object they are in (a tenant section's, or a platform section's). */
export function formGroups(fields: readonly ConfigField[], overrides: Obj, effective: Obj, typed?: URLSearchParams): ConfigGroupView[] {
  const groups = new Map<string, ConfigFieldView[]>();
  for (const field of fields) {
    const label = field.path.slice(0, -1).join(' › ');
    groups.set(label, [...(groups.get(label) ?? []), fieldView(field, overrides, effective, typed)]);
  }
  return [...groups].map(([label, fields]) => ({ label, fields }));
}

/** One field's override from the form; undefined for "no override". */
function fieldValue(field: ConfigField, form: URLSearchParams, stored: Obj): unknown {
  const raw = text(form, field.name);
  switch (field.kind) {
    case 'boolean':
      return raw === 'true' ? true : raw === 'false' ? false : raw;
    case 'integer':
    case 'number':
      // Anything but a number is passed on as text, for the schema to refuse with the field named.
      return raw !== undefined && /^-?\d{1,15}(\.\d+)?$/.test(raw) ? Number(raw) : raw;
    case 'list': {
      const lines = (raw ?? '').split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
      return lines.length ? lines : undefined;
    }
    case 'choices': {
      const ticked = form.getAll(field.name);
      return ticked.length ? [...new Set(ticked)] : undefined;
    }
    case 'secret':
      return raw ?? (typeof getPath(stored, field.path) === 'string' ? SECRET_MASK : undefined);
    default:
      return raw;
  }
}

/** The section's overrides a generated form describes (before validation); blank fields are left out. */
export function overridesFromForm(section: ConfigSection, form: URLSearchParams, stored: Obj): Obj {
  return valuesFromForm(FIELDS[section], form, stored);
}

/** The nested object any generated fields describe (before validation); blank fields are left out. */
export function valuesFromForm(fields: readonly ConfigField[], form: URLSearchParams, stored: Obj): Obj {
  const out: Obj = {};
  for (const field of fields) {
    const value = fieldValue(field, form, stored);
    if (value === undefined) continue;
    let at = out;
    for (const key of field.path.slice(0, -1)) at = (at[key] = isObj(at[key]) ? at[key] : {});
    at[field.path[field.path.length - 1]!] = value;
  }
  return out;
}
