/**
 * The management API's shared shapes as zod schemas: what its answers look like (serialize.ts
 * builds them) and its path parameters. The OpenAPI document is generated from these, and the
 * API tests check every answer against them, so a change of shape shows up as a failing test.
 */
import { z } from 'zod';
import { CONFIG_SECTIONS } from '../config/tenant-config-schema.ts';
import { PLATFORM_SECTIONS } from '../config/platform-policy.ts';
import { ADDRESS_FIELDS, PROFILE_CLAIMS } from '../accounts/profile-claims.ts';

const dateTime = z.iso.datetime({ offset: true });
/** A timestamp as the database hands it back (webhook rows keep their text form). */
const timestamp = z.string();

/** Every error Atrium answers itself (http/error-middleware.ts). */
export const errorSchema = z
  .object({
    error: z.string().describe('A stable code: invalid_request, invalid_token, insufficient_scope, not_found, conflict, quota_exceeded, ...'),
    error_description: z.string().describe('What went wrong, in English, naming the field or value at fault.'),
    correlation_id: z.string().describe('Quote it to the operator: it finds the request in the logs.'),
  })
  .meta({ id: 'Error' });

export const tenantSchema = z
  .object({
    id: z.uuid(),
    slug: z.string(),
    name: z.string(),
    status: z.enum(['active', 'suspended']),
    issuer: z.url(),
    domains: z.array(z.string()),
    created_at: dateTime,
    updated_at: dateTime,
  })
  .meta({ id: 'Tenant' });

/** The standard claims kept beside name and email (accounts/profile-claims.ts); filled from an upstream's claims_mapping. */
const profileSchema = z
  .strictObject({
    ...Object.fromEntries(PROFILE_CLAIMS.filter((c) => c !== 'address' && c !== 'updated_at').map((c) => [c, z.string().optional()])),
    address: z.strictObject(Object.fromEntries(ADDRESS_FIELDS.map((f) => [f, z.string().optional()]))).optional(),
    updated_at: z.int().optional().describe('Seconds since the epoch, as the upstream gave it.'),
  })
  .describe("OpenID Connect standard claims (Core 1.0 section 5.1) from the user's upstream, by the connection's claims_mapping. The phone number is not here: it is the user's verified phone.")
  .meta({ id: 'UserProfile' });

export const userSchema = z
  .object({
    id: z.uuid(),
    email: z.string(),
    email_verified: z.boolean(),
    name: z.string().nullable(),
    roles: z.array(z.string()),
    status: z.enum(['active', 'disabled']),
    created_at: dateTime,
    updated_at: dateTime,
    last_login_at: dateTime.nullable(),
    profile: profileSchema,
  })
  .meta({ id: 'User' });

/** Registered client metadata (RFC 7591 names) without the secret, plus Atrium's own fields. */
export const clientSchema = z
  .looseObject({
    client_id: z.string(),
    client_name: z.string().optional(),
    redirect_uris: z.array(z.string()).optional(),
    grant_types: z.array(z.string()).optional(),
    response_types: z.array(z.string()).optional(),
    token_endpoint_auth_method: z.string().optional(),
    scope: z.string().optional(),
    client_id_issued_at: z.int(),
    has_client_secret: z.boolean(),
    updated_at: dateTime,
  })
  .meta({ id: 'Client' });

/** A client as created or with a new secret: the secret is shown in this answer only. */
export const clientWithSecretSchema = clientSchema
  .extend({ client_secret: z.string().optional(), client_secret_expires_at: z.literal(0).optional() })
  .meta({ id: 'ClientWithSecret' });

export const signingKeySchema = z
  .object({
    kid: z.string(),
    alg: z.string(),
    status: z.enum(['next', 'current', 'retired']),
    public_jwk: z.looseObject({ kty: z.string() }),
    created_at: dateTime,
    activated_at: dateTime.nullable(),
    retired_at: dateTime.nullable(),
    rotates_at: dateTime.nullable(),
    expires_at: dateTime.nullable(),
  })
  .meta({ id: 'SigningKey' });

export const keyListSchema = z.object({ keys: z.array(signingKeySchema) });

/** A page of a tenant's list: `next_cursor` (null on the last page) pages on; `offset` is in answers to the older offset paging. */
export const pagedSchema = <K extends string, T extends z.ZodType>(key: K, item: T) =>
  z.object({ [key]: z.array(item), total: z.int(), limit: z.int(), offset: z.int().optional(), next_cursor: z.string().nullable() } as { [k in K]: z.ZodArray<T> } & { total: z.ZodInt; limit: z.ZodInt; offset: z.ZodOptional<z.ZodInt>; next_cursor: z.ZodNullable<z.ZodString> });

export const domainSchema = z
  .object({
    domain: z.string(),
    primary: z.boolean(),
    status: z.enum(['pending', 'verified', 'unverified']),
    primary_on_verify: z.literal(true).optional(),
    challenge: z.object({
      dns: z.object({ name: z.string(), type: z.literal('TXT'), value: z.string() }),
      http: z.object({ url: z.string(), body: z.string() }),
    }),
    verified_at: dateTime.nullable(),
    checked_at: dateTime.nullable(),
    created_at: dateTime,
  })
  .meta({ id: 'Domain' });

export const auditEventSchema = z
  .object({
    id: z.string(),
    at: dateTime,
    actor: z.string().nullable(),
    action: z.string(),
    target: z.string().nullable(),
    outcome: z.string(),
    ip: z.string().nullable(),
    user_agent: z.string().nullable(),
    correlation_id: z.string().nullable(),
    details: z.record(z.string(), z.unknown()),
  })
  .meta({ id: 'AuditEvent' });

export const lockoutSchema = z
  .object({ user_id: z.uuid(), locked: z.boolean(), locked_until: dateTime.nullable(), failed_attempts: z.int(), lockouts: z.int() })
  .meta({ id: 'Lockout' });

export const sessionSchema = z
  .object({
    id: z.string(),
    kind: z.enum(['sign_in', 'console']),
    device: z.string(),
    ip: z.string().nullable(),
    amr: z.array(z.string()),
    created_at: dateTime.nullable(),
    last_seen_at: dateTime.nullable(),
  })
  .meta({ id: 'UserSession' });

export const roleSchema = z
  .object({ name: z.string(), description: z.string().nullable(), users: z.int(), created_at: dateTime, updated_at: dateTime })
  .meta({ id: 'Role' });

const quotaValue = z.int().nullable();
export const quotaReportSchema = z
  .object({
    quotas: z.object({ users: quotaValue, clients: quotaValue, custom_domains: quotaValue, federation_connections: quotaValue, management_requests_per_minute: quotaValue }),
    usage: z.object({ users: z.int(), clients: z.int(), custom_domains: z.int(), federation_connections: z.int() }),
  })
  .meta({ id: 'QuotaReport' });

export const webhookSchema = z
  .object({ id: z.uuid(), url: z.string(), event_types: z.array(z.string()), description: z.string().nullable(), enabled: z.boolean(), created_at: timestamp })
  .meta({ id: 'Webhook' });

export const webhookDeliverySchema = z
  .object({
    id: z.string(),
    webhook_id: z.uuid(),
    event_type: z.string(),
    status: z.enum(['pending', 'delivered', 'failed']),
    attempts: z.int(),
    last_error: z.string().nullable(),
    created_at: timestamp,
    delivered_at: timestamp.nullable(),
    next_attempt_at: timestamp.nullable(),
  })
  .meta({ id: 'WebhookDelivery' });

/** A federation connection as the API shows it: the secret masked, the redirect URI to register upstream. */
export const connectionSchema = z
  .looseObject({
    name: z.string(),
    provider: z.string(),
    display_name: z.string().nullable(),
    enabled: z.boolean(),
    issuer: z.string().nullable(),
    discovery_endpoint: z.string().nullable(),
    client_id: z.string(),
    client_secret: z.string().nullable(),
    has_client_secret: z.boolean(),
    introspection_endpoint: z.string().nullable().describe('RFC 7662 endpoint asked at every refresh whether the upstream token of the sign-in is still active; null: no re-check.'),
    redirect_uri: z.string(),
    created_at: dateTime,
    updated_at: dateTime,
  })
  .meta({ id: 'FederationConnection' });

export const redirectUrisSchema = z.object({ tenant: z.string(), relay: z.string() });

export const connectionTestSchema = z
  .object({ ok: z.boolean(), steps: z.array(z.object({ name: z.enum(['discovery', 'jwks', 'credentials']), ok: z.boolean(), detail: z.string() })) })
  .meta({ id: 'FederationTestReport' });

export const isolationReportSchema = z
  .object({
    status: z.enum(['passed', 'failed']),
    checked_at: dateTime,
    checks: z.array(z.object({ name: z.string(), status: z.enum(['pass', 'fail', 'skip']), detail: z.string(), problems: z.array(z.string()).optional() })),
  })
  .meta({ id: 'IsolationReport' });

export const platformSectionSchema = z
  .object({
    section: z.enum(PLATFORM_SECTIONS),
    version: z.int(),
    updated_at: dateTime.nullable(),
    settings: z.record(z.string(), z.unknown()).describe('Every bounded field by its dotted path, with its floor, ceiling or default in force.'),
  })
  .meta({ id: 'PlatformConfigSection' });

/** Path parameters, by the name the routes give them. */
export const pathParams = {
  slug: z.string().max(63).describe('The tenant\'s slug.'),
  id: z.string().describe('The user\'s (or webhook\'s) id.'),
  clientId: z.string().describe('The client_id.'),
  domain: z.string().max(300).describe('The custom domain (host[:port]).'),
  name: z.string().max(64).describe('The federation connection\'s name.'),
  role: z.string().max(64).describe('The custom role\'s name.'),
  section: z.enum(CONFIG_SECTIONS).describe('The configuration section.'),
  platformSection: z.enum(PLATFORM_SECTIONS).describe('The platform policy section.'),
  deliveryId: z.string().regex(/^msg_[0-9a-f]{32}$/).describe('The delivery\'s webhook-id.'),
} as const;
