/**
 * The OpenID Connect standard claims (Core 1.0 section 5.1) Atrium keeps per user beside
 * email, name and the phone (users.profile, migration 022), and the check each value passes
 * before it is kept. Values come from a tenant's upstream (federation claims_mapping), so
 * each is checked for its claim's type and bounded in size: a value that fails is dropped by
 * the caller, never stored as it came. Checks lean on the platform where it knows the
 * format: Intl for time zones and BCP 47 language tags, the WHATWG URL parser for URLs;
 * only the birthdate's calendar check and the address's shape are our own lines.
 */

/** Profile claims as strings of free text (bounded). */
const TEXT_CLAIMS = ['given_name', 'family_name', 'middle_name', 'nickname', 'preferred_username', 'gender'] as const;
/** Profile claims that are URLs of a page or an image (http or https only). */
const URL_CLAIMS = ['profile', 'picture', 'website'] as const;
/** The address claim's members (section 5.1.1); any other member is left out. */
export const ADDRESS_FIELDS = ['formatted', 'street_address', 'locality', 'region', 'postal_code', 'country'] as const;

/** Every claim users.profile may hold, in the order of section 5.1. */
export const PROFILE_CLAIMS = [...TEXT_CLAIMS.slice(0, 5), ...URL_CLAIMS, 'gender', 'birthdate', 'zoneinfo', 'locale', 'address', 'updated_at'] as const;
export type ProfileClaim = (typeof PROFILE_CLAIMS)[number];

export type Address = Partial<Record<(typeof ADDRESS_FIELDS)[number], string>>;
export type Profile = Partial<Record<Exclude<ProfileClaim, 'address' | 'updated_at'>, string>> & { address?: Address; updated_at?: number };

const MAX_TEXT = 200;
const MAX_ADDRESS_FIELD = 500;
const MAX_URL = 2000;
// Control characters (C0, DEL, C1) have no place in a name shown on pages and in tokens.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

function text(value: unknown, max: number, multiline = false): string | undefined {
  if (typeof value !== 'string') return undefined;
  const trimmed = value.trim();
  if (!trimmed || trimmed.length > max) return undefined;
  return CONTROL.test(multiline ? trimmed.replace(/\r?\n/g, ' ') : trimmed) ? undefined : trimmed;
}

function webUrl(value: unknown): string | undefined {
  const raw = text(value, MAX_URL);
  if (!raw || !URL.canParse(raw)) return undefined;
  const url = new URL(raw);
  return url.protocol === 'https:' || url.protocol === 'http:' ? url.href : undefined;
}

/** YYYY-MM-DD (a real calendar day), YYYY alone, or 0000-MM-DD (year withheld), as section 5.1 allows. */
function birthdate(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  if (/^\d{4}$/.test(value)) return value === '0000' ? undefined : value;
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  if (!m) return undefined;
  // Year 0000 stands for "withheld": check the day against a leap year, so 02-29 stays possible.
  const year = m[1] === '0000' ? 2000 : Number(m[1]);
  const day = new Date(Date.UTC(year, Number(m[2]) - 1, Number(m[3])));
  return day.getUTCFullYear() === year && day.getUTCMonth() === Number(m[2]) - 1 && day.getUTCDate() === Number(m[3]) ? value : undefined;
}

/** An IANA time zone name the runtime knows (Europe/Paris, America/Los_Angeles, UTC). */
function zoneinfo(value: unknown): string | undefined {
  const zone = text(value, 64);
  if (!zone || !/^[A-Za-z][A-Za-z0-9_+-]*(?:\/[A-Za-z0-9_+-]+){0,2}$/.test(zone)) return undefined;
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return zone;
  } catch {
    return undefined;
  }
}

/** A BCP 47 language tag, in its canonical form (en-US); the underscore form some upstreams send (en_US) is read as a hyphen. */
function locale(value: unknown): string | undefined {
  const tag = text(value, 35);
  if (!tag) return undefined;
  try {
    return Intl.getCanonicalLocales(tag.replace('_', '-'))[0];
  } catch {
    return undefined;
  }
}

/** The standard members of an address that are short strings; undefined when none is. */
function address(value: unknown): Address | undefined {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  const out: Address = {};
  for (const field of ADDRESS_FIELDS) {
    const v = Object.hasOwn(value, field) ? text((value as Record<string, unknown>)[field], MAX_ADDRESS_FIELD, field === 'formatted' || field === 'street_address') : undefined;
    if (v !== undefined) out[field] = v;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

/** Seconds since the epoch, given as a number or a date string. */
function epochSeconds(value: unknown): number | undefined {
  const ms = typeof value === 'number' ? value * 1000 : typeof value === 'string' && /^\d{4}-\d{2}-\d{2}T/.test(value) ? Date.parse(value) : NaN;
  if (!Number.isFinite(ms) || ms < 0 || ms > Date.now() + 86_400_000) return undefined;
  return Math.floor(ms / 1000);
}

/** The value to keep for `claim`, or undefined when `value` is not one (the caller drops it). */
export function profileValue(claim: ProfileClaim, value: unknown): Profile[ProfileClaim] {
  switch (claim) {
    case 'profile':
    case 'picture':
    case 'website':
      return webUrl(value);
    case 'birthdate':
      return birthdate(value);
    case 'zoneinfo':
      return zoneinfo(value);
    case 'locale':
      return locale(value);
    case 'address':
      return address(value);
    case 'updated_at':
      return epochSeconds(value);
    default:
      return text(value, MAX_TEXT);
  }
}

/**
 * A stored profile as read back (the column is jsonb): only known claims, each of its type.
 * Values were checked when written (profileValue), so reading only keeps the shape honest
 * rather than paying for every check again on each token request.
 */
export function storedProfile(raw: unknown): Profile {
  if (raw === null || typeof raw !== 'object') return {};
  const out: Record<string, unknown> = {};
  for (const claim of PROFILE_CLAIMS) {
    if (!Object.hasOwn(raw, claim)) continue;
    const v = (raw as Record<string, unknown>)[claim];
    const kept = claim === 'address' ? address(v) : typeof v === (claim === 'updated_at' ? 'number' : 'string') ? v : undefined;
    if (kept !== undefined) out[claim] = kept;
  }
  return out;
}

/** The claims whose value differs between two profiles. */
export function changedClaims(a: Profile, b: Profile): ProfileClaim[] {
  return PROFILE_CLAIMS.filter((c) => JSON.stringify(a[c]) !== JSON.stringify(b[c]));
}
