/**
 * What a tenant's upstream connection looks like on the wire (`PUT .../federation/:name`),
 * and the presets that turn a few provider-specific inputs (a directory id, a domain, a
 * realm, a user pool) into the issuer whose discovery document Atrium reads.
 */
import { z } from 'zod';
import { claimPath } from './claim-paths.ts';
import { PROFILE_CLAIMS, type ProfileClaim } from '../accounts/profile-claims.ts';
import { redirectPath } from './redirect-path.ts';
import { introspectionUrl, upstreamUrl } from './upstream-urls.ts';
import { roleMappingSchema, type RoleMapping } from './role-mapping.ts';
import { FEDERATION_PROVIDERS, PROVIDER_NAMES, presetIssuer, presetLogout, type FederationProvider } from './preset-endpoints.ts';
import { POST_LOGOUT_RETURN_PARAMS, type PostLogoutReturnParam } from './upstream-logout.ts';

export { FEDERATION_PROVIDERS, type FederationProvider } from './preset-endpoints.ts';

/** Connection names appear in URLs (`/federation/:name`): lowercase, URL-safe, short. */
export const CONNECTION_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;

export const DEFAULT_SCOPES = 'openid email profile';

/**
 * Which upstream claims (a name, or a JSON Pointer into nested claims: claim-paths.ts) fill
 * which standard claim of an Atrium user: email, email_verified and name (the user record),
 * the other OpenID Connect standard claims (users.profile: accounts/profile-claims.ts), the
 * phone (phone_number with phone_number_verified: accounts/phone-store.ts) and the roles.
 */
export type ClaimsMapping = {
  email: string;
  email_verified: string;
  name: string;
  /** Where the upstream's groups or roles are; with `role_mapping`, they set the user's roles at each sign-in. */
  roles?: string;
  phone_number?: string;
  phone_number_verified?: string;
} & Partial<Record<ProfileClaim, string>>;
export const DEFAULT_CLAIMS_MAPPING: ClaimsMapping = { email: 'email', email_verified: 'email_verified', name: 'name' };

/** What a mapping may fill: every standard claim of OpenID Connect Core 1.0 section 5.1 but `sub`, and the roles. */
export const CLAIMS_MAPPING_TARGETS = ['email', 'email_verified', 'name', ...PROFILE_CLAIMS, 'phone_number', 'phone_number_verified', 'roles'] as const;

/** The 400's words for mapping targets that are not kept: each named; `sub` said to be Atrium's own. */
function unmappableTargets(keys: string[]): string {
  const named = keys.slice(0, 20).map((k) => {
    const shown = JSON.stringify(k.slice(0, 64));
    return k === 'sub' ? `${shown}: Atrium issues sub itself (one per user and tenant), an upstream cannot set it` : `${shown} is not a claim Atrium keeps`;
  });
  return `cannot map onto ${named.join('; ')}${keys.length > 20 ? ` (and ${keys.length - 20} more)` : ''}; the targets are ${CLAIMS_MAPPING_TARGETS.join(', ')}`;
}

/** Endpoints given explicitly instead of discovered (an upstream without a discovery document). */
export interface ExplicitEndpoints {
  authorization_endpoint: string;
  token_endpoint: string;
  jwks_uri: string;
  userinfo_endpoint?: string;
}

/** A connection as stored (the secret apart) and as the flow uses it. */
export interface ConnectionSettings {
  provider: FederationProvider;
  display_name: string;
  enabled: boolean;
  /** The provider-specific inputs as given (e.g. `{ domain }` for okta), echoed back by GET. */
  preset: Record<string, string>;
  /** The upstream's issuer identifier; with `discovery_endpoint` unset, discovery is `{issuer}/.well-known/openid-configuration`. */
  issuer: string | null;
  discovery_endpoint: string | null;
  endpoints: ExplicitEndpoints | null;
  client_id: string;
  token_endpoint_auth_method: 'client_secret_basic' | 'client_secret_post' | 'none';
  scopes: string;
  allowed_domains: string[];
  home_realm_domains: string[];
  claims_mapping: ClaimsMapping;
  link_by_verified_email: boolean;
  use_relay: boolean;
  // Issue 14, item 3: the IdP fields tenants bring.
  /** The issuer the upstream's users and ID tokens know, when Atrium reaches it by another (`issuer`/discovery). */
  public_issuer: string | null;
  /** The path on the tenant's issuer the upstream returns to; null: /federation/callback. */
  redirect_path: string | null;
  /** Upstream group/role name → tenant roles, applied from `claims_mapping.roles` at each sign-in. */
  role_mapping: RoleMapping;
  // Issue 14, item 1: sign-out at the upstream (upstream-logout.ts).
  /** The upstream's end-session endpoint; null: the discovery document's, if any. */
  end_session_endpoint: string | null;
  /** How the upstream takes the address to come back to (its logout request's shape). */
  post_logout_return_param: PostLogoutReturnParam;
  /** RFC 7662: when set, every refresh of a session from this connection asks the upstream whether its token is still active (introspection.ts). */
  introspection_endpoint: string | null;
}

/** The item-3 fields for a connection stored before they existed. */
export const ITEM3_DEFAULTS = { public_issuer: null, redirect_path: null, role_mapping: {}, end_session_endpoint: null, post_logout_return_param: 'post_logout_redirect_uri', introspection_endpoint: null } as const;

const DOMAIN = /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;
const HOSTNAME = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?(?::\d{1,5})?$/;

const emailDomain = z
  .string()
  .trim()
  .toLowerCase()
  .regex(DOMAIN, 'must be a domain name such as example.com');

const ENDPOINT_FIELDS = ['authorization_endpoint', 'token_endpoint', 'jwks_uri', 'userinfo_endpoint'] as const;
/** The provider-specific inputs, and which provider takes which. */
const PRESET_FIELDS = ['directory_id', 'authority_host', 'domain', 'authorization_server', 'base_url', 'realm', 'region', 'user_pool_id'] as const;
const PRESET_FIELDS_OF: Record<FederationProvider, readonly (typeof PRESET_FIELDS)[number][]> = {
  generic_oidc: [],
  google: [],
  entra_id: ['directory_id', 'authority_host'],
  okta: ['domain', 'authorization_server'],
  auth0: ['domain'],
  keycloak: ['base_url', 'realm'],
  cognito: ['region', 'user_pool_id', 'domain'],
  mobilityguard: [],
};

/** The fields of a connection, each checked on its own; `checkConnection` checks them together. */
function connectionObject(allowHttp: boolean) {
  const url = upstreamUrl(allowHttp);
  return z.strictObject({
    provider: z.enum(FEDERATION_PROVIDERS, { message: `must be one of ${FEDERATION_PROVIDERS.join(', ')}` }),
    display_name: z.string().trim().min(1).max(100).optional(),
    enabled: z.boolean().default(true),
    // generic_oidc
    issuer: url.optional(),
    discovery_endpoint: url.optional(),
    authorization_endpoint: url.optional(),
    token_endpoint: url.optional(),
    jwks_uri: url.optional(),
    userinfo_endpoint: url.optional(),
    // presets
    directory_id: z
      .string()
      .trim()
      .toLowerCase()
      .regex(/^(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|(?:[a-z0-9-]+\.)+[a-z]{2,63})$/, 'must be the directory (tenant) id or a verified domain of the directory')
      .optional(),
    authority_host: z.string().trim().toLowerCase().regex(HOSTNAME, 'must be a host name').optional(),
    domain: z.string().trim().toLowerCase().regex(HOSTNAME, 'must be a host name such as example.okta.com').optional(),
    authorization_server: z.string().trim().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be an authorization server id such as default').optional(),
    base_url: url.optional(),
    realm: z.string().trim().regex(/^[A-Za-z0-9_.-]{1,100}$/, 'must be a realm name').optional(),
    region: z.string().trim().regex(/^[a-z]{2}(?:-[a-z]+)+-\d$/, 'must be an AWS region such as eu-west-1').optional(),
    user_pool_id: z.string().trim().regex(/^[a-z]{2}(?:-[a-z]+)+-\d_[A-Za-z0-9]+$/, 'must be a user pool id such as eu-west-1_AbCdEf123').optional(),
    // the client at the upstream
    client_id: z.string().trim().min(1).max(500),
    client_secret: z.string().min(1).max(2000).nullable().optional(),
    token_endpoint_auth_method: z.enum(['client_secret_basic', 'client_secret_post', 'none']).optional(),
    scopes: z
      .string()
      .trim()
      .max(1000)
      .regex(/^[\x21\x23-\x5b\x5d-\x7e]+(?: [\x21\x23-\x5b\x5d-\x7e]+)*$/, 'must be space-separated scope names')
      .refine((v) => v.split(' ').includes('openid'), 'must include openid')
      .default(DEFAULT_SCOPES),
    allowed_domains: z.array(emailDomain).max(100).default([]),
    home_realm_domains: z.array(emailDomain).max(100).default([]),
    claims_mapping: z
      .strictObject(
        Object.fromEntries(CLAIMS_MAPPING_TARGETS.map((target) => [target, claimPath.optional()])) as Record<(typeof CLAIMS_MAPPING_TARGETS)[number], z.ZodOptional<typeof claimPath>>,
        { error: (issue) => (issue.code === 'unrecognized_keys' ? unmappableTargets(issue.keys) : undefined) },
      )
      .default({}),
    link_by_verified_email: z.boolean().default(false),
    use_relay: z.boolean().default(false),
    // Issue 14, item 3: the IdP fields tenants bring.
    public_issuer: url.optional(),
    redirect_path: redirectPath.optional(),
    role_mapping: roleMappingSchema().default({}),
    end_session_endpoint: url.optional(),
    post_logout_return_param: z.enum(POST_LOGOUT_RETURN_PARAMS, { message: `must be one of ${POST_LOGOUT_RETURN_PARAMS.join(', ')}` }).optional(),
    introspection_endpoint: introspectionUrl(allowHttp).optional(),
  });
}

type ConnectionFields = z.output<ReturnType<typeof connectionObject>>;

/** What one field needs of another: the inputs each provider takes, explicit endpoints, domains, the secret. */
function checkConnection(input: ConnectionFields, ctx: z.RefinementCtx) {
  const need = (field: keyof typeof input, why: string) => {
    if (input[field] === undefined) ctx.addIssue({ code: 'custom', path: [field], message: `required ${why}` });
  };
  const forbid = (fields: (keyof typeof input)[], why: string) => {
    for (const field of fields) if (input[field] !== undefined) ctx.addIssue({ code: 'custom', path: [field], message: `not allowed ${why}` });
  };
  const forProvider = `for provider ${input.provider}`;
  forbid(PRESET_FIELDS.filter((f) => !PRESET_FIELDS_OF[input.provider].includes(f)), forProvider);
  if (input.provider === 'mobilityguard') forbid(['issuer', ...ENDPOINT_FIELDS], `${forProvider} (its discovery_endpoint sets the endpoints)`);
  else if (input.provider !== 'generic_oidc') forbid(['issuer', 'discovery_endpoint', ...ENDPOINT_FIELDS], `${forProvider} (the preset sets the endpoints)`);
  switch (input.provider) {
    case 'generic_oidc': {
      const explicit = ENDPOINT_FIELDS.some((f) => input[f] !== undefined);
      if (explicit) {
        forbid(['discovery_endpoint'], 'together with explicit endpoints');
        need('issuer', 'with explicit endpoints (the ID token issuer)');
        for (const f of ['authorization_endpoint', 'token_endpoint', 'jwks_uri'] as const) need(f, 'with explicit endpoints');
      } else if (input.issuer === undefined && input.discovery_endpoint === undefined) {
        ctx.addIssue({ code: 'custom', path: ['discovery_endpoint'], message: 'required for provider generic_oidc: give discovery_endpoint, issuer, or explicit endpoints' });
      }
      break;
    }
    case 'entra_id':
      need('directory_id', forProvider);
      break;
    case 'okta':
    case 'auth0':
      need('domain', forProvider);
      break;
    case 'keycloak':
      need('base_url', forProvider);
      need('realm', forProvider);
      break;
    case 'cognito':
      need('region', forProvider);
      need('user_pool_id', forProvider);
      if (input.region && input.user_pool_id && !input.user_pool_id.startsWith(`${input.region}_`)) {
        ctx.addIssue({ code: 'custom', path: ['user_pool_id'], message: `must belong to region ${input.region}` });
      }
      break;
    case 'mobilityguard':
      need('discovery_endpoint', `${forProvider} (a OneGate instance publishes one discovery document per application)`);
      break;
    case 'google':
      break;
  }
  if (Object.keys(input.role_mapping).length > 0 && !input.claims_mapping.roles) {
    ctx.addIssue({ code: 'custom', path: ['claims_mapping', 'roles'], message: 'required with role_mapping (where the upstream puts its groups or roles)' });
  }
  // A home realm the connection would then refuse sends people in circles.
  if (input.allowed_domains.length > 0) {
    input.home_realm_domains.forEach((domain, i) => {
      if (!input.allowed_domains.includes(domain)) ctx.addIssue({ code: 'custom', path: ['home_realm_domains', i], message: `${domain} is not in allowed_domains` });
    });
  }
  if (input.token_endpoint_auth_method === 'none' && input.client_secret) {
    ctx.addIssue({ code: 'custom', path: ['client_secret'], message: 'not allowed with token_endpoint_auth_method none' });
  }
}

export function connectionInputSchema(options: { allowHttp: boolean }) {
  return connectionObject(options.allowHttp).superRefine(checkConnection);
}

export type ConnectionInput = z.infer<ReturnType<typeof connectionInputSchema>>;

/** Expands a validated input into the stored settings: preset endpoints, defaults, mapping. */
export function toSettings(input: ConnectionInput): ConnectionSettings {
  const preset = Object.fromEntries(PRESET_FIELDS.flatMap((k) => (input[k] === undefined ? [] : [[k, input[k]]])));
  const explicit = input.provider === 'generic_oidc' && input.authorization_endpoint !== undefined;
  return {
    provider: input.provider,
    display_name: input.display_name ?? PROVIDER_NAMES[input.provider],
    enabled: input.enabled,
    preset,
    issuer: presetIssuer(input),
    discovery_endpoint: input.provider === 'generic_oidc' || input.provider === 'mobilityguard' ? (input.discovery_endpoint ?? null) : null,
    endpoints: explicit
      ? { authorization_endpoint: input.authorization_endpoint!, token_endpoint: input.token_endpoint!, jwks_uri: input.jwks_uri!, ...(input.userinfo_endpoint ? { userinfo_endpoint: input.userinfo_endpoint } : {}) }
      : null,
    client_id: input.client_id,
    // A public client (no secret, PKCE only) is asked for explicitly, never inferred from a forgotten secret.
    token_endpoint_auth_method: input.token_endpoint_auth_method ?? 'client_secret_basic',
    scopes: input.scopes,
    allowed_domains: [...new Set(input.allowed_domains)],
    home_realm_domains: [...new Set(input.home_realm_domains)],
    claims_mapping: { ...DEFAULT_CLAIMS_MAPPING, ...input.claims_mapping },
    link_by_verified_email: input.link_by_verified_email,
    use_relay: input.use_relay,
    public_issuer: input.public_issuer ?? null,
    redirect_path: input.redirect_path ?? null,
    role_mapping: input.role_mapping,
    ...presetLogout(input),
    introspection_endpoint: input.introspection_endpoint ?? null,
  };
}

/** Where the discovery document is read from (undefined: explicit endpoints). */
export function discoveryUrl(settings: Pick<ConnectionSettings, 'issuer' | 'discovery_endpoint' | 'endpoints'>): string | undefined {
  if (settings.endpoints) return undefined;
  if (settings.discovery_endpoint) return settings.discovery_endpoint;
  return settings.issuer ? `${settings.issuer.replace(/\/+$/, '')}/.well-known/openid-configuration` : undefined;
}
