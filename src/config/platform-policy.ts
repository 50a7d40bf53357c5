/**
 * The operator's policy above the tenants (issue 13, item 4): for some per-tenant settings,
 * the platform sets a floor (no tenant runs below it), a ceiling (none runs above it) and a
 * default (what a tenant without an override runs with). The built-in values are the code
 * constants of tenant-config-bounds.ts; the operator's changes are stored per section in
 * `platform_config` (tenancy/platform-config.ts) and reach every tenant at once.
 *
 * A platform section mirrors the tenant section of the same name, each field carrying its
 * bounds: `{"oidc": {"access_token_ttl": {"default": 900, "ceiling": 3600}}}` bounds the
 * tenant field `oidc.access_token_ttl`. Which bounds a field takes is declared below, so a
 * bound that nothing would apply is refused (400) rather than stored.
 */
import { KEY_ROTATION_DAYS, LIFETIME_CEILINGS, LIFETIME_DEFAULTS, PASSWORD_MIN_LENGTH_FLOOR } from './tenant-config-bounds.ts';

export const MFA_LEVELS = ['off', 'admins', 'all'] as const;
export type MfaLevel = (typeof MFA_LEVELS)[number];

export const PLATFORM_SECTIONS = ['security', 'oidc'] as const;
export type PlatformSection = (typeof PLATFORM_SECTIONS)[number];
export const isPlatformSection = (s: string): s is PlatformSection => (PLATFORM_SECTIONS as readonly string[]).includes(s);

export type BoundKind = 'default' | 'floor' | 'ceiling';
type Value = number | MfaLevel;
export type Bounds = Partial<Record<BoundKind, Value>>;

interface FieldSpec {
  /** `int` within [min, max] (the range the code can honour), or an MFA level. */
  readonly type: 'int' | 'level';
  readonly min?: number;
  readonly max?: number;
  readonly kinds: readonly BoundKind[];
  readonly builtIn: Bounds;
}

const ttl = (dflt: number, ceiling: number): FieldSpec => ({ type: 'int', min: 1, max: ceiling, kinds: ['default', 'ceiling'], builtIn: { default: dflt, ceiling } });

/** Per section, the bounded tenant fields (dotted paths within the section). */
export const PLATFORM_FIELDS: Readonly<Record<PlatformSection, Readonly<Record<string, FieldSpec>>>> = {
  security: {
    // NIST 800-63B §5.1.1.2 keeps the built-in floor as the lowest an operator may set.
    'password_policy.min_length': { type: 'int', min: PASSWORD_MIN_LENGTH_FLOOR, max: 128, kinds: ['floor'], builtIn: { floor: PASSWORD_MIN_LENGTH_FLOOR } },
    'mfa.required': { type: 'level', kinds: ['floor'], builtIn: { floor: 'off' } },
  },
  oidc: {
    access_token_ttl: ttl(LIFETIME_DEFAULTS.accessToken, LIFETIME_CEILINGS.accessToken),
    id_token_ttl: ttl(LIFETIME_DEFAULTS.idToken, LIFETIME_CEILINGS.idToken),
    refresh_token_ttl: ttl(LIFETIME_DEFAULTS.refreshToken, LIFETIME_CEILINGS.refreshToken),
    key_rotation_days: { type: 'int', min: KEY_ROTATION_DAYS.min, max: KEY_ROTATION_DAYS.max, kinds: ['default', 'floor', 'ceiling'], builtIn: { default: KEY_ROTATION_DAYS.default, floor: KEY_ROTATION_DAYS.min, ceiling: KEY_ROTATION_DAYS.max } },
  },
};

/** What the operator stored for one section: bounds by field path. */
export type PlatformSectionSettings = Readonly<Record<string, Bounds>>;

/** The policy in force: the operator's settings over the built-in values, with a version that grows with every change. */
export interface PlatformPolicy {
  readonly version: number;
  readonly stored: Readonly<Record<PlatformSection, PlatformSectionSettings>>;
}

export const BUILT_IN_POLICY: PlatformPolicy = Object.freeze({ version: 0, stored: Object.freeze({ security: {}, oidc: {} }) });

/** The bounds of one tenant field in force under `policy` (built-in values for whatever the operator did not set). */
export function boundsOf(policy: PlatformPolicy, section: PlatformSection, field: string): Bounds {
  const spec = PLATFORM_FIELDS[section][field];
  return { ...spec?.builtIn, ...policy.stored[section][field] };
}

/** A whole section as the operator sees it: every field with every bound it takes. */
export function effectiveSection(policy: PlatformPolicy, section: PlatformSection): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const field of Object.keys(PLATFORM_FIELDS[section])) setPath(out, field.split('.'), boundsOf(policy, section, field));
  return out;
}

/** What the operator stored for a section, nested as the API takes it (no built-in values). */
export function storedSection(policy: PlatformPolicy, section: PlatformSection): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [field, bounds] of Object.entries(policy.stored[section])) setPath(out, field.split('.'), bounds);
  return out;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => Boolean(v) && typeof v === 'object' && !Array.isArray(v);

function setPath(target: Obj, path: readonly string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) node = (node[key] = isObj(node[key]) ? node[key] : {});
  node[path[path.length - 1]!] = value;
}

export function getPath(node: unknown, path: readonly string[]): unknown {
  return path.reduce<unknown>((n, k) => (isObj(n) ? n[k] : undefined), node);
}

const levelIndex = (v: unknown) => MFA_LEVELS.indexOf(v as MfaLevel);

function valueProblem(spec: FieldSpec, value: unknown): string | undefined {
  if (spec.type === 'level') return levelIndex(value) < 0 ? `must be one of ${MFA_LEVELS.join(', ')}` : undefined;
  if (typeof value !== 'number' || !Number.isInteger(value)) return 'must be a whole number';
  if (value < spec.min! || value > spec.max!) return `must be between ${spec.min} and ${spec.max}`;
  return undefined;
}

/** Floor ≤ default ≤ ceiling, the operator's values taken over the built-in ones. */
function orderProblems(section: PlatformSection, field: string, bounds: Bounds): string[] {
  const name = `${section}.${field}`;
  const { floor, ceiling, default: dflt } = bounds;
  const problems: string[] = [];
  if (typeof floor === 'number' && typeof ceiling === 'number' && floor > ceiling) problems.push(`${name}.floor: ${floor} is above the ceiling ${ceiling}`);
  if (typeof dflt === 'number' && typeof floor === 'number' && dflt < floor) problems.push(`${name}.default: ${dflt} is below the floor ${floor}`);
  if (typeof dflt === 'number' && typeof ceiling === 'number' && dflt > ceiling) problems.push(`${name}.default: ${dflt} is above the ceiling ${ceiling}`);
  return problems;
}

/**
 * Validates the operator's settings for one section: every field known and bounded the
 * way it can be, values of the right type and range, floor ≤ default ≤ ceiling. Returns the
 * settings to store (by field path) or the problems, each naming its field.
 */
export function parsePlatformSection(section: PlatformSection, input: unknown): { settings: PlatformSectionSettings; problems: string[] } {
  const problems: string[] = [];
  const settings: Record<string, Bounds> = {};
  const fields = PLATFORM_FIELDS[section];
  if (!isObj(input)) return { settings, problems: [`${section}: the body must be a JSON object`] };
  const walk = (node: Obj, prefix: string[]) => {
    for (const [key, value] of Object.entries(node)) {
      const path = [...prefix, key];
      const dotted = path.join('.');
      const spec = fields[dotted];
      if (spec) {
        settings[dotted] = parseBounds(section, dotted, spec, value, problems);
      } else if (Object.keys(fields).some((f) => f.startsWith(`${dotted}.`)) && isObj(value)) {
        walk(value, path);
      } else {
        problems.push(`${section}.${dotted}: unknown field (known: ${Object.keys(fields).join(', ')})`);
      }
    }
  };
  walk(input, []);
  for (const [field, bounds] of Object.entries(settings)) problems.push(...orderProblems(section, field, { ...fields[field]!.builtIn, ...bounds }));
  return { settings, problems };
}

function parseBounds(section: PlatformSection, field: string, spec: FieldSpec, value: unknown, problems: string[]): Bounds {
  const name = `${section}.${field}`;
  if (!isObj(value)) {
    problems.push(`${name}: must be an object of ${spec.kinds.join(', ')}`);
    return {};
  }
  const bounds: Bounds = {};
  for (const [kind, v] of Object.entries(value)) {
    if (!spec.kinds.includes(kind as BoundKind)) {
      problems.push(`${name}.${kind}: unknown field (this setting takes ${spec.kinds.join(', ')})`);
      continue;
    }
    const problem = valueProblem(spec, v);
    if (problem) problems.push(`${name}.${kind}: ${problem}`);
    else bounds[kind as BoundKind] = v as Value;
  }
  return bounds;
}

/** The value a tenant runs with: its own (or the platform default), raised to the floor, lowered to the ceiling. */
export function boundedValue(bounds: Bounds, own: unknown): unknown {
  const value = own === undefined && bounds.default !== undefined ? bounds.default : own;
  if (typeof value === 'number') {
    const raised = typeof bounds.floor === 'number' ? Math.max(value, bounds.floor) : value;
    return typeof bounds.ceiling === 'number' ? Math.min(raised, bounds.ceiling) : raised;
  }
  if (typeof value === 'string' && bounds.floor !== undefined && levelIndex(value) >= 0) return MFA_LEVELS[Math.max(levelIndex(value), levelIndex(bounds.floor))];
  return value;
}

/** What in a tenant's override breaks a bound in force, one message per field naming the bound. */
export function boundViolations(policy: PlatformPolicy, section: string, value: Obj): string[] {
  if (!isPlatformSection(section)) return [];
  const problems: string[] = [];
  for (const field of Object.keys(PLATFORM_FIELDS[section])) {
    const own = getPath(value, field.split('.'));
    if (own === undefined) continue;
    const { floor, ceiling } = boundsOf(policy, section, field);
    const name = `${section}.${field}`;
    if (typeof own === 'number' && typeof floor === 'number' && own < floor) problems.push(`${name}: at least ${floor} (platform floor)`);
    if (typeof own === 'number' && typeof ceiling === 'number' && own > ceiling) problems.push(`${name}: at most ${ceiling} (platform ceiling)`);
    if (typeof own === 'string' && typeof floor === 'string' && levelIndex(own) < levelIndex(floor)) problems.push(`${name}: at least "${floor}" (platform floor)`);
  }
  return problems;
}

/**
 * A tenant's merged section with the policy applied: each bounded field is the tenant's own
 * value (from `overrides`), else the platform default, else the global default (in `merged`),
 * then clamped. Stored values are never rewritten: this is read-time (DESIGN.md, "Operator policy").
 */
export function applyPolicy(policy: PlatformPolicy, section: string, overrides: unknown, merged: Obj): Obj {
  if (!isPlatformSection(section)) return merged;
  const out = structuredClone(merged);
  for (const field of Object.keys(PLATFORM_FIELDS[section])) {
    const path = field.split('.');
    const own = getPath(overrides, path);
    const bounds = boundsOf(policy, section, field);
    const value = boundedValue(bounds, own ?? (bounds.default === undefined ? getPath(merged, path) : undefined));
    if (value !== undefined) setPath(out, path, value);
  }
  return out;
}
