/**
 * The sections of per-tenant configuration (SPEC "Per-tenant configuration") as strict zod
 * schemas: snake_case JSON, every field optional (a section holds overrides only), unknown
 * fields refused. Type and shape only: platform floors and ceilings are checked in
 * tenant-config-constraints.ts, so their messages can name the bound.
 */
import { z } from 'zod';

const text = (max: number) => z.string().trim().min(1).max(max);
const url = z.url({ protocol: /^https?$/ }).max(2048);
const locale = z.string().regex(/^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$/, 'must be a BCP 47 language tag such as "en" or "pt-BR"');
const color = z.string().regex(/^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$/, 'must be a hex colour such as "#1a2b3c"');
const seconds = z.number().int().positive();
const domain = z.string().regex(/^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/i, 'must be a domain name');
/** A secret: a string to set, null to remove; the mask keeps the stored value. */
const secret = z.string().min(1).max(4096).nullable();

const palette = z.strictObject({ primary: color, secondary: color, background: color, text: color }).partial();

export const applicationSchema = z.strictObject({
  title: text(200),
  description: text(2000),
  default_locale: locale,
  available_locales: z.array(locale).min(1).max(100),
}).partial();

export const brandingSchema = z.strictObject({
  company_name: text(200),
  logos: z.strictObject({ light: url, dark: url }).partial(),
  favicon: url,
  fonts: z.strictObject({ body: text(100), heading: text(100) }).partial(),
  colors: z.strictObject({ light: palette, dark: palette }).partial(),
}).partial();

/** A role name as `security.roles` takes it; that it exists (built in or the tenant's) is checked when the section is saved. */
const roleName = z.string().regex(/^[a-z0-9_-]{1,64}$/, 'must be a role name: 1-64 characters of a-z, 0-9, "_" and "-"');
/** The roles a tenant's users get when no role is given: its first user, and every later one. */
export const DEFAULT_ROLES = { first_user: 'owner', new_user: 'member' } as const;

const rateLimit = z.strictObject({ limit: z.number().int().positive(), window_seconds: z.number().int().positive() });

export const securitySchema = z.strictObject({
  password_policy: z.strictObject({
    min_length: z.number().int().positive().max(1024),
    require_uppercase: z.boolean(),
    require_digit: z.boolean(),
    require_symbol: z.boolean(),
  }).partial(),
  mfa: z.strictObject({ required: z.enum(['off', 'admins', 'all']), totp_enabled: z.boolean() }).partial(),
  webauthn: z.strictObject({ enabled: z.boolean(), user_verification: z.enum(['required', 'preferred', 'discouraged']) }).partial(),
  signup: z.strictObject({ mode: z.enum(['open', 'invite_only', 'closed']), allowed_email_domains: z.array(domain).max(500), require_email_verification: z.boolean() }).partial(),
  rate_limits: z.strictObject({ login_per_ip: rateLimit, login_per_account: rateLimit, token_per_client: rateLimit, token_per_ip: rateLimit }).partial(),
  lockout: z.strictObject({ max_attempts: z.number().int().positive().max(1000), duration_seconds: seconds }).partial(),
  device_matching: z.boolean(),
  audit_retention_days: z.number().int().positive(),
  reauth_max_age_seconds: z.number().int().nonnegative(),
  roles: z.strictObject({ first_user: roleName, new_user: roleName }).partial(),
}).partial();

/** The social sign-in providers a tenant can offer as buttons (federation/social-providers.ts). */
export const SOCIAL_PROVIDERS = ['google', 'microsoft', 'github', 'apple', 'facebook'] as const;
export type SocialProvider = (typeof SOCIAL_PROVIDERS)[number];

const scopeToken = z.string().regex(/^[\x21\x23-\x5B\x5D-\x7E]{1,200}$/, 'must be one OAuth scope (no spaces or quotes)');
const socialCommon = {
  enabled: z.boolean(),
  client_id: text(512),
  /** Scopes asked for beyond the provider's defaults (which are always asked for). */
  scopes: z.array(scopeToken).max(50),
  /** Opt-in: an upstream account whose verified email belongs to an existing user signs in as that user. */
  link_by_verified_email: z.boolean(),
};
const socialOAuth = z.strictObject({ ...socialCommon, client_secret: secret }).partial();
/**
 * Apple's client secret is a short-lived ES256 JWT Atrium signs for each token request with
 * the key the tenant made at Apple (a .p8 file, PKCS #8 PEM), named by its key id and team id.
 */
const socialApple = z.strictObject({
  ...socialCommon,
  team_id: z.string().regex(/^[A-Z0-9]{10}$/, 'must be the 10-character Apple team id'),
  key_id: z.string().regex(/^[A-Z0-9]{10}$/, 'must be the 10-character key id Apple shows for the key'),
  private_key: secret,
}).partial();

export const featuresSchema = z.strictObject({
  social: z.strictObject({ google: socialOAuth, microsoft: socialOAuth, github: socialOAuth, facebook: socialOAuth, apple: socialApple }).partial(),
  enterprise_sso: z.boolean(),
  /**
   * Opt-in: the tenant appears in the platform host's public tenant picker (`GET /tenants`,
   * interactions/tenant-picker-routes.ts) with its name, logo and sign-in link, and its
   * connections' home-realm domains are found from there. Off, it is never revealed there.
   */
  tenant_picker: z.boolean(),
}).partial();

/** The text-message providers Atrium speaks (sms/). */
export const SMS_PROVIDERS = ['twilio', 'vonage'] as const;
export type SmsProvider = (typeof SMS_PROVIDERS)[number];

/** The grants a tenant may switch on or off (`oidc.enabled_grants`). */
export const GRANT_TYPES = ['authorization_code', 'refresh_token', 'client_credentials'] as const;
export type GrantType = (typeof GRANT_TYPES)[number];

export const oidcSchema = z.strictObject({
  access_token_ttl: seconds,
  id_token_ttl: seconds,
  refresh_token_ttl: seconds,
  session_ttl: seconds,
  key_rotation_days: z.number().int().positive(),
  enabled_grants: z.array(z.enum(GRANT_TYPES)).max(GRANT_TYPES.length).refine((grants) => new Set(grants).size === grants.length, 'each grant at most once'),
  service_documentation: url,
  op_policy_uri: url,
  op_tos_uri: url,
}).partial();

export const integrationsSchema = z.strictObject({
  smtp: z.strictObject({ host: text(253), port: z.number().int().min(1).max(65_535), user: text(320), password: secret, from: text(320), secure: z.boolean() }).partial(),
  website_url: url,
  privacy_policy_url: url,
  terms_url: url,
}).partial();

export const notificationsSchema = z.strictObject({
  email: z.strictObject({ enabled: z.boolean(), from_name: text(200) }).partial(),
  /**
   * Text messages (sms/): Twilio (account_id is the Account SID, auth_token its auth token,
   * from a number or a Messaging Service SID) or Vonage (api key and secret, from a number
   * or an alphanumeric sender id). Sent for security alerts to users with a verified phone
   * number, and to verify a phone number.
   */
  sms: z.strictObject({ enabled: z.boolean(), provider: z.enum(SMS_PROVIDERS), account_id: z.string().regex(/^[A-Za-z0-9]{6,64}$/, 'must be the provider\'s account SID or API key'), auth_token: secret, from: text(34) }).partial(),
  security_alerts: z.strictObject({ new_device: z.boolean(), password_changed: z.boolean(), mfa_changed: z.boolean() }).partial(),
}).partial();

export const SECTION_SCHEMAS = {
  application: applicationSchema,
  branding: brandingSchema,
  security: securitySchema,
  features: featuresSchema,
  oidc: oidcSchema,
  integrations: integrationsSchema,
  notifications: notificationsSchema,
} as const;

export type ConfigSection = keyof typeof SECTION_SCHEMAS;
export const CONFIG_SECTIONS = Object.keys(SECTION_SCHEMAS) as ConfigSection[];

export function isConfigSection(name: string): name is ConfigSection {
  return Object.hasOwn(SECTION_SCHEMAS, name);
}

/** Fields sealed at rest and masked in every answer; `*` matches any key (a provider name). */
export const SECRET_PATHS: readonly (readonly string[])[] = [
  ['integrations', 'smtp', 'password'],
  ['features', 'social', '*', 'client_secret'],
  ['features', 'social', 'apple', 'private_key'],
  ['notifications', 'sms', 'auth_token'],
];
