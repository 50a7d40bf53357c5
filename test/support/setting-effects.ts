/**
 * Where the effect of every per-tenant setting is tested (issue 13, item 1: nothing accepted
 * and ignored). Each leaf path of the configuration schemas (config-leaves.ts) names the
 * test(s) that set the field, through the management API, /admin or a tenant fixture, and
 * assert what it changes: a page, a token, a limit, a mail. Storing it is not an effect.
 * test/tenant-settings-effects.test.ts fails the suite for a leaf with no entry here, for an
 * entry that is no longer a leaf, and for a test title that is not in the file named.
 */

export interface EffectTest {
  /** The test file, from the repository root. */
  file: string;
  /** The exact title given to it()/test() in that file. */
  test: string;
}

const file = (f: string) => (...tests: string[]): EffectTest[] => tests.map((test) => ({ file: `test/${f}.test.ts`, test }));

const settings = file('tenant-settings');
const consoleAuth = file('console-auth');
const passwordPolicy = file('password-policy');
const mfaTotp = file('mfa-totp');
const signup = file('signup');
const rateLimit = file('rate-limit');
const lockout = file('lockout');
const tenantConfig = file('tenant-config');
const keyLifecycle = file('key-lifecycle');
const accountSessions = file('account-sessions');
const tenantPages = file('tenant-page-settings');
const deviceMatching = file('device-matching');
const oidcSettings = file('oidc-settings');
const sms = file('sms-notifications');
const social = file('social-sign-in');

const LOCALES = 'application.default_locale picks the language of a browser that states none, and available_locales limits what a browser can get';
const BRANDING = 'branding: the favicon and the dark logo reach the page head, the heading font and every colour reach /branding.css';
const PALETTE = "serves the tenant's palette and fonts as a stylesheet, safely";
const PASSWORDS = "the same passwords meet one tenant's policy and not the other's";
const WINDOWS = 'each limit counts over its own window_seconds: a short window lets the next request through within seconds';
const LIFETIMES = 'oidc.id_token_ttl, refresh_token_ttl and session_ttl set the lifetimes of the ID token, the refresh token and the sign-in session';
const OWN_SMTP = 'a tenant with its own SMTP settings sends through its own server, with its sealed password';
const ALERTS_OFF = 'password_changed and mfa_changed set to false silence those alerts, and email.enabled set to false silences every alert';
const TENANT_PAGE = 'the sign-in page shows the title, the description and the website, privacy and terms links';
const DISCOVERY = "service_documentation, op_policy_uri and op_tos_uri appear in the tenant's discovery, and go when cleared";
const SOCIAL_PROVIDER_TESTS: Record<string, string> = {
  github: 'GitHub: OAuth 2.0 with PKCE, the user from /user and only the verified primary email from /user/emails',
  google: 'Google: OpenID Connect, a verified ID token (issuer, audience, nonce) and its verified email',
  microsoft: "Microsoft: the ID token of the user's own directory (iss with its tid) is accepted; its email counts as unverified",
  apple: "Apple: form_post answer, a client secret signed with the tenant's key, and the name from the first sign-in's user JSON",
  facebook: 'Facebook: the Graph API /me with id, name and email; the email never counts as verified',
};
const SOCIAL_BUTTONS = "another tenant shows none of acme's buttons and refuses its providers; enabled false hides one";
const SOCIAL_LINKING = 'links to an existing account only with link_by_verified_email and a verified email; scopes add to the defaults';
const SOCIAL_SECRET = "a wrong client_id or client_secret is the provider's refusal, shown as an error page";
/** Each provider's fields: its own sign-in test shows client id and secret (or Apple's key) at work; the shared tests show the switches. */
function socialEffects(): Record<string, EffectTest[]> {
  const out: Record<string, EffectTest[]> = {};
  for (const [provider, test] of Object.entries(SOCIAL_PROVIDER_TESTS)) {
    const own = social(test);
    out[`features.social.${provider}.enabled`] = [...own, ...social(SOCIAL_BUTTONS)];
    out[`features.social.${provider}.client_id`] = provider === 'github' ? [...own, ...social(SOCIAL_SECRET)] : own;
    out[`features.social.${provider}.scopes`] = provider === 'google' ? social(SOCIAL_LINKING) : own;
    out[`features.social.${provider}.link_by_verified_email`] = provider === 'google' ? social(SOCIAL_LINKING) : [...own, ...social(SOCIAL_LINKING)];
    if (provider === 'apple') for (const f of ['team_id', 'key_id', 'private_key']) out[`features.social.apple.${f}`] = own;
    else out[`features.social.${provider}.client_secret`] = provider === 'github' ? [...own, ...social(SOCIAL_SECRET)] : own;
  }
  return out;
}
const SMS_TWILIO = 'sends the verification code as a Messages API form post with Basic auth, and a verified number gets the password alert';
const SMS_VONAGE = 'sends the code as an SMS API form post with api_key, api_secret, from, to and text';
const PASSKEYS = 'security.webauthn.enabled false offers no passkey, and user_verification reaches the passkey options';

export const SETTING_EFFECTS: Readonly<Record<string, readonly EffectTest[]>> = {
  'application.default_locale': settings(LOCALES),
  'application.available_locales': settings(LOCALES),

  'branding.company_name': [...consoleAuth(PALETTE), ...file('platform-browser')("creates a tenant, sets its branding, and the tenant's login page shows it")],
  'branding.logos.light': consoleAuth(PALETTE),
  'branding.logos.dark': settings(BRANDING),
  'branding.favicon': settings(BRANDING),
  'branding.fonts.body': consoleAuth(PALETTE),
  'branding.fonts.heading': settings(BRANDING),
  'branding.colors.light.primary': consoleAuth(PALETTE),
  'branding.colors.light.secondary': settings(BRANDING),
  'branding.colors.light.background': settings(BRANDING),
  'branding.colors.light.text': settings(BRANDING),
  'branding.colors.dark.primary': consoleAuth(PALETTE),
  'branding.colors.dark.secondary': settings(BRANDING),
  'branding.colors.dark.background': settings(BRANDING),
  'branding.colors.dark.text': settings(BRANDING),

  'security.password_policy.min_length': [...passwordPolicy(PASSWORDS), ...tenantConfig('a raised password min_length applies to the next user created')],
  'security.password_policy.require_uppercase': passwordPolicy(PASSWORDS),
  'security.password_policy.require_digit': passwordPolicy(PASSWORDS),
  'security.password_policy.require_symbol': passwordPolicy(PASSWORDS),
  'security.mfa.required': mfaTotp("'all' makes a user without MFA enrol before the sign-in completes", "'admins' asks admins only"),
  'security.mfa.totp_enabled': settings('security.mfa.totp_enabled false takes the authenticator app off the account page and refuses its enrolment'),
  'security.webauthn.enabled': settings(PASSKEYS),
  'security.webauthn.user_verification': settings(PASSKEYS),
  'security.signup.mode': signup('the login page links to signup only where signup is open, and always to password reset', 'is refused where signup is closed, for an existing account, and for bad input'),
  'security.signup.allowed_email_domains': signup('refuses a domain outside allowed_email_domains and a password outside the policy, with messages'),
  'security.signup.require_email_verification': signup(
    'open signup: a verification mail, a link that works once, then the account exists and signs in',
    'without required verification, a new and a registered address get the same page; the new account signs in with its password',
  ),
  'security.rate_limits.login_per_ip.limit': rateLimit('per IP: the attempt after the limit is refused with 429, Retry-After and a message, even with the right password'),
  'security.rate_limits.login_per_ip.window_seconds': rateLimit(WINDOWS),
  'security.rate_limits.login_per_account.limit': rateLimit('per account: attempts from many IPs at one email (any case) are refused after the limit; audited once'),
  'security.rate_limits.login_per_account.window_seconds': rateLimit(WINDOWS),
  'security.rate_limits.token_per_client.limit': rateLimit('per client: refused with 429 JSON after the limit, whatever the IP; wrong secrets do not spend it'),
  'security.rate_limits.token_per_client.window_seconds': rateLimit(WINDOWS),
  'security.rate_limits.token_per_ip.limit': rateLimit('per IP: counts every token request from the address, however the client authenticates'),
  'security.rate_limits.token_per_ip.window_seconds': rateLimit(WINDOWS),
  'security.lockout.max_attempts': lockout("locks after the tenant's max_attempts; a locked account answers like a wrong password, even to the right one", 'the same failures do not lock an account of a tenant with a higher limit'),
  'security.lockout.duration_seconds': lockout('a lock runs out, and the next one lasts twice as long'),
  'security.audit_retention_days': file('audit-api')("deletes events older than each tenant's security.audit_retention_days (default 365, bounded 1..3650)"),
  'security.roles.first_user': file('roles-quotas')("security.roles.first_user: a new tenant's first user gets it, the next one new_user"),
  'security.roles.new_user': file('roles-quotas')('security.roles.new_user: users created without a role get it through the API and federation; another tenant keeps member'),
  'security.reauth_max_age_seconds': file('reauthentication')('with reauth_max_age_seconds 0 a fresh sign-in does not count: every change asks on the request itself'),

  'oidc.access_token_ttl': tenantConfig('a new access_token_ttl applies to the next client_credentials token, without restart; other tenants keep theirs'),
  'oidc.id_token_ttl': settings(LIFETIMES),
  'oidc.refresh_token_ttl': settings(LIFETIMES),
  'oidc.session_ttl': settings(LIFETIMES),
  'oidc.key_rotation_days': keyLifecycle('rotates a tenant whose keys are older than its key_rotation_days, and no other', 'lists rotates_at for current keys: activation plus key_rotation_days (90 by default)'),

  'integrations.smtp.host': signup(OWN_SMTP),
  'integrations.smtp.port': signup(OWN_SMTP),
  'integrations.smtp.user': signup(OWN_SMTP),
  'integrations.smtp.password': signup(OWN_SMTP),
  'integrations.smtp.from': signup(OWN_SMTP),
  'integrations.smtp.secure': settings("integrations.smtp.secure true opens the tenant's SMTP connection with TLS from the first byte, false speaks plain SMTP"),

  'notifications.email.enabled': accountSessions(ALERTS_OFF),
  'notifications.email.from_name': accountSessions('notifications.email.from_name names the sender of the tenant\'s mails'),
  'notifications.security_alerts.new_device': accountSessions('stays silent where the tenant turned new-device alerts off', 'mails the user once when they sign in from a device they have not used before, never for their first device'),
  'notifications.security_alerts.password_changed': accountSessions(ALERTS_OFF),
  'notifications.security_alerts.mfa_changed': accountSessions(ALERTS_OFF),

  'application.title': tenantPages(TENANT_PAGE, 'another tenant shows none of them, and an unset title falls back to the brand name'),
  'application.description': tenantPages(TENANT_PAGE),
  'integrations.website_url': tenantPages(TENANT_PAGE, 'the consent page links them too', 'the signup page links them too'),
  'integrations.privacy_policy_url': tenantPages(TENANT_PAGE, 'the consent page links them too', 'the signup page links them too'),
  'integrations.terms_url': tenantPages(TENANT_PAGE, 'the consent page links them too', 'the signup page links them too'),
  'security.device_matching': deviceMatching(
    'on: the same browser on a new network is a new device (mail), on a known network it is not; the sessions list names the network',
    'off (the default, and at another tenant): a new network is the same device',
  ),
  'features.enterprise_sso': file('federation-flow')('features.enterprise_sso off: no buttons, no home-realm discovery, and a button pressed anyway is refused; on again, all is back'),
  'features.tenant_picker': file('tenant-picker')(
    'features.tenant_picker through the API lists and unlists at once, and the config audit event says so',
    "an admin lists and unlists the tenant from /admin/branding, keeping the rest of its features; another tenant's admin cannot",
    "a listed tenant's domain answers its sign-in and connection; an unlisted tenant's answers as an unknown domain",
  ),
  'oidc.enabled_grants': oidcSettings(
    'without client_credentials: gone from discovery, refused at the token endpoint (fast path included); other tenants and grants unaffected',
    'without refresh_token: gone from discovery with offline_access, no refresh token issued, an earlier one refused',
  ),
  'oidc.service_documentation': oidcSettings(DISCOVERY),
  'oidc.op_policy_uri': oidcSettings(DISCOVERY),
  'oidc.op_tos_uri': oidcSettings(DISCOVERY),

  ...socialEffects(),

  'notifications.sms.enabled': sms(SMS_TWILIO, 'notifications.sms: enabled false (or never set) offers no phone number and texts nothing'),
  'notifications.sms.provider': sms(SMS_TWILIO, SMS_VONAGE),
  'notifications.sms.account_id': sms(SMS_TWILIO, SMS_VONAGE),
  'notifications.sms.auth_token': sms(SMS_TWILIO, SMS_VONAGE),
  'notifications.sms.from': sms(SMS_TWILIO, SMS_VONAGE, 'uses MessagingServiceSid when the sender is a Messaging Service'),
};

/**
 * Leaves whose effect does not exist yet. None now: a field is built with its effect test, or
 * it is not in the schema (and refused with a 400 naming it). Kept, empty, so the meta-test's
 * rule for it stays in force: a path may not be both here and in SETTING_EFFECTS.
 */
export const AWAITING: ReadonlySet<string> = new Set<string>([]);

const platformPolicy = file('platform-policy');
const LIFETIME_BOUNDS = 'ID and refresh token lifetime defaults and ceilings reach the tokens a sign-in gets';
const ROTATION_BOUNDS = "key rotation default, floor and ceiling set when each tenant's signing keys rotate";

/**
 * Where the effect of every bound of the operator's policy (config/platform-policy.ts,
 * PLATFORM_FIELDS) is tested, by `section.field.bound`: a floor, ceiling or default that a
 * tenant's tokens, passwords, sign-in or key schedule really obey. Checked like the per-tenant
 * table, by test/tenant-settings-effects.test.ts.
 */
export const PLATFORM_EFFECTS: Record<string, EffectTest[]> = {
  'security.password_policy.min_length.floor': platformPolicy('a raised password floor applies at once to every tenant, keeping their stored values'),
  'security.mfa.required.floor': [
    ...file('platform-policy-browser')('a platform admin requires MFA of tenant admins in /platform, and a tenant admin without it enrols at their next sign-in'),
    ...platformPolicy("the MFA floor raises every tenant's mfa.required in force"),
  ],
  'oidc.access_token_ttl.default': platformPolicy('token lifetime default and ceiling reach the token endpoint at once'),
  'oidc.access_token_ttl.ceiling': platformPolicy('token lifetime default and ceiling reach the token endpoint at once'),
  'oidc.id_token_ttl.default': platformPolicy(LIFETIME_BOUNDS),
  'oidc.id_token_ttl.ceiling': platformPolicy(LIFETIME_BOUNDS),
  'oidc.refresh_token_ttl.default': platformPolicy(LIFETIME_BOUNDS),
  'oidc.refresh_token_ttl.ceiling': platformPolicy(LIFETIME_BOUNDS),
  'oidc.key_rotation_days.default': platformPolicy(ROTATION_BOUNDS),
  'oidc.key_rotation_days.floor': platformPolicy(ROTATION_BOUNDS),
  'oidc.key_rotation_days.ceiling': platformPolicy(ROTATION_BOUNDS),
};
