/**
 * Global defaults of per-tenant configuration and the platform constraints that bound
 * every override. The defaults and bounds are the constants the run-time readers already
 * use (token lifetimes, rate limits, key schedule, password policy), so the configuration
 * API, the merged view and the code that acts on a value always agree.
 */
import { KEY_ROTATION_DAYS, LIFETIME_CEILINGS, LIFETIME_DEFAULTS, PASSWORD_MIN_LENGTH_FLOOR, RATE_LIMIT_DEFAULTS, rateLimitViolations } from './tenant-config-bounds.ts';
import { BUILT_IN_POLICY, boundViolations, type PlatformPolicy } from './platform-policy.ts';
import { createPrivateKey } from 'node:crypto';
import { DEFAULT_ROLES, type ConfigSection } from './tenant-config-schema.ts';
import { isE164 } from './phone-number.ts';

export { MFA_LEVELS, type MfaLevel } from './platform-policy.ts';

/** Beyond this, audit events are kept longer than the platform promises to store them. */
export const AUDIT_RETENTION_DAYS = { default: 365, max: 3650 } as const;

/**
 * How recent an authentication must be for a change of credentials on /account (NIST
 * 800-63B §6.1.2): 0 asks on the request itself; beyond half an hour it is no longer "recent".
 */
export const REAUTH_MAX_AGE_SECONDS = { default: 300, max: 1800 } as const;

export const GLOBAL_DEFAULTS: Readonly<Record<ConfigSection, Record<string, unknown>>> = {
  application: { title: 'Atrium', default_locale: 'en', available_locales: ['en', 'fr'] },
  branding: { company_name: 'Atrium', colors: { light: { primary: '#2563eb', background: '#ffffff', text: '#111827' }, dark: { primary: '#60a5fa', background: '#111827', text: '#f9fafb' } } },
  security: {
    password_policy: { min_length: PASSWORD_MIN_LENGTH_FLOOR, require_uppercase: false, require_digit: false, require_symbol: false },
    mfa: { required: 'off', totp_enabled: true },
    webauthn: { enabled: true, user_verification: 'preferred' },
    signup: { mode: 'invite_only', allowed_email_domains: [] },
    rate_limits: RATE_LIMIT_DEFAULTS,
    lockout: { max_attempts: 10, duration_seconds: 900 },
    roles: DEFAULT_ROLES,
    device_matching: false,
    audit_retention_days: AUDIT_RETENTION_DAYS.default,
    reauth_max_age_seconds: REAUTH_MAX_AGE_SECONDS.default,
  },
  features: { enterprise_sso: true, tenant_picker: false, social: {} },
  oidc: {
    access_token_ttl: LIFETIME_DEFAULTS.accessToken,
    id_token_ttl: LIFETIME_DEFAULTS.idToken,
    refresh_token_ttl: LIFETIME_DEFAULTS.refreshToken,
    session_ttl: LIFETIME_DEFAULTS.session,
    key_rotation_days: KEY_ROTATION_DAYS.default,
    enabled_grants: ['authorization_code', 'refresh_token', 'client_credentials'],
  },
  integrations: { smtp: {} },
  notifications: { email: { enabled: true }, sms: { enabled: false }, security_alerts: { new_device: true, password_changed: true, mfa_changed: true } },
};

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {});

function atMost(problems: string[], field: string, value: unknown, max: number): void {
  if (typeof value === 'number' && value > max) problems.push(`${field}: at most ${max}`);
}

/** What a constraint may depend on besides the value: the tenant's part in the deployment. */
export interface TenantRole {
  /** The platform tenant: it issues the management API's tokens (client_credentials). */
  issuesManagementTokens?: boolean;
  /** The operator's policy in force (the tenant record's): its floors and ceilings bound every override. */
  policy?: PlatformPolicy;
}

/**
 * authorization_code stays on: users sign in with it, and so do Atrium's own pages on every
 * tenant (/account, /admin). The platform tenant keeps client_credentials, or the management
 * API could lock itself out.
 */
function grantViolations(grants: unknown, tenant: TenantRole): string[] {
  if (!Array.isArray(grants)) return [];
  const problems: string[] = [];
  if (!grants.includes('authorization_code')) problems.push('oidc.enabled_grants: must include authorization_code (users and Atrium\'s own pages sign in with it)');
  if (tenant.issuesManagementTokens && !grants.includes('client_credentials')) {
    problems.push('oidc.enabled_grants: must include client_credentials on the platform tenant (it issues the management API\'s tokens)');
  }
  return problems;
}

/** What the mask looks like here (tenancy/tenant-config.ts owns it); a masked secret is the stored one, already checked. */
const MASK = '********';

/** An enabled social provider names its client; Apple's also its team, its key id and a P-256 key in PKCS #8 PEM (the .p8 file). */
function socialViolations(social: unknown): string[] {
  const problems: string[] = [];
  for (const [name, raw] of Object.entries(obj(social))) {
    const provider = obj(raw);
    const field = (f: string) => `features.social.${name}.${f}`;
    if (provider.enabled === true && typeof provider.client_id !== 'string') problems.push(`${field('client_id')}: required when enabled`);
    if (name !== 'apple') continue;
    if (provider.enabled === true) for (const f of ['team_id', 'key_id']) if (typeof provider[f] !== 'string') problems.push(`${field(f)}: required when enabled`);
    const key = provider.private_key;
    if (typeof key === 'string' && key !== MASK && !isP256Pkcs8(key)) problems.push(`${field('private_key')}: must be the .p8 key Apple issued (an EC P-256 private key in PKCS #8 PEM)`);
  }
  return problems;
}

function isP256Pkcs8(pem: string): boolean {
  if (!pem.includes('-----BEGIN PRIVATE KEY-----')) return false;
  try {
    const key = createPrivateKey({ key: pem, format: 'pem' });
    return key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1';
  } catch {
    return false;
  }
}

/**
 * SMS on names its provider, account and sender. The sender is an E.164 number, or what each
 * provider takes instead: a Twilio Messaging Service SID, a Vonage alphanumeric sender id.
 */
function smsViolations(sms: unknown): string[] {
  const value = obj(sms);
  const problems: string[] = [];
  if (value.enabled === true) for (const f of ['provider', 'account_id', 'from']) if (typeof value[f] !== 'string') problems.push(`notifications.sms.${f}: required when enabled`);
  const from = value.from;
  if (typeof from === 'string' && !isE164(from)) {
    const service = value.provider === 'twilio' && /^MG[0-9a-f]{32}$/.test(from);
    const alphanumeric = value.provider === 'vonage' && /^(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}$/.test(from);
    if (!service && !alphanumeric) {
      problems.push(`notifications.sms.from: must be a phone number in E.164 form (e.g. +14155552671)${value.provider === 'twilio' ? ' or a Messaging Service SID (MG…)' : value.provider === 'vonage' ? ' or an alphanumeric sender id of at most 11 characters' : ''}`);
    }
  }
  return problems;
}

/**
 * What in a (schema-valid) section override breaks a platform floor or ceiling (the
 * operator's, config/platform-policy.ts, or a fixed one here), one message per field naming
 * the bound; empty when it is acceptable.
 */
export function constraintViolations(section: ConfigSection, value: Obj, tenant: TenantRole = {}): string[] {
  const problems: string[] = boundViolations(tenant.policy ?? BUILT_IN_POLICY, section, value);
  if (section === 'security') {
    atMost(problems, 'security.audit_retention_days', value.audit_retention_days, AUDIT_RETENTION_DAYS.max);
    atMost(problems, 'security.reauth_max_age_seconds', value.reauth_max_age_seconds, REAUTH_MAX_AGE_SECONDS.max);
    problems.push(...rateLimitViolations(value.rate_limits));
  }
  if (section === 'oidc') {
    atMost(problems, 'oidc.session_ttl', value.session_ttl, LIFETIME_CEILINGS.session);
    problems.push(...grantViolations(value.enabled_grants, tenant));
  }
  if (section === 'features') problems.push(...socialViolations(value.social));
  // The platform tenant hosts the picker; listing it would offer the platform's own sign-in as an organisation.
  if (section === 'features' && value.tenant_picker === true && tenant.issuesManagementTokens) problems.push('features.tenant_picker: not on the platform tenant (it hosts the tenant picker)');
  if (section === 'notifications') problems.push(...smsViolations(value.sms));
  return problems;
}
