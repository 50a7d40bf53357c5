/**
 * Bearer authentication for the management API: a JWT access token for the API audience,
 * verified locally against the published keys of the tenant that issued it.
 *   - tokens of the platform tenant carry platform scopes (every tenant, per scope);
 *   - tokens of any other tenant carry `atrium:tenant:read|write` and reach that tenant only.
 * A token counts only while its client does: a client deleted or no longer allowed the
 * client_credentials grant ends its tokens (401), and a scope the client no longer holds
 * is not granted (403). The client is read from the cache keyed by tenant version
 * (oidc/tenant-materials.ts), so this costs no query per call; any client change bumps the
 * version and its bus event makes every instance's tenant registry read the new one.
 */
import type { Context, Next } from 'koa';
import { LRUCache } from 'lru-cache';
import { createLocalJWKSet, decodeJwt, errors as joseErrors, jwtVerify } from 'jose';
import type { AtriumConfig } from '../config/env.ts';
import { forbidden, notFound, unauthorized } from '../core/errors.ts';
import { managementApiAudience, type PlatformScope } from '../oidc/api-resource.ts';
import type { SigningKeyStore } from '../oidc/signing-keys.ts';
import type { ClientMetadata } from '../oidc/client-store.ts';
import type { TenantMaterials } from '../oidc/tenant-materials.ts';
import { issuerFor, platformTenantSlug, type Tenant } from '../tenancy/tenant.ts';
import type { TenantRegistry } from '../tenancy/tenant-registry.ts';
import { currentContext, runAsTenant } from '../core/request-context.ts';
import { hostnameOf } from '../tenancy/resolve-tenant.ts';

export interface ApiPrincipal {
  clientId: string;
  scopes: ReadonlySet<string>;
  /** Set for a token of an ordinary tenant: the one tenant it may manage. */
  tenant?: { id: string; slug: string };
}

/** Who made a management API change, as the audit log names it: `client:<client id>`. */
export function apiActor(ctx: Context): string {
  return `client:${(ctx.state.principal)?.clientId ?? 'unknown'}`;
}

export function apiAuthentication(config: AtriumConfig, registry: TenantRegistry, keys: SigningKeyStore, materials: TenantMaterials) {
  const audience = managementApiAudience(config);
  const keySets = new LRUCache<string, { version: number; jwks: ReturnType<typeof createLocalJWKSet> }>({ max: 10_000 });

  async function keySet(tenant: Tenant) {
    let cached = keySets.get(tenant.id);
    if (cached?.version !== tenant.version) {
      const list = await runAsTenant(tenant.id, () => keys.list());
      cached = { version: tenant.version, jwks: createLocalJWKSet({ keys: list.map((k) => k.publicJwk) }) };
      keySets.set(tenant.id, cached);
    }
    return cached.jwks;
  }

  /** The tenant whose issuer `iss` is, found from the issuer itself (never from the request). */
  async function issuingTenant(iss: string): Promise<Tenant | undefined> {
    if (iss === config.publicUrl.origin) return registry.bySlug(platformTenantSlug(config));
    let url: URL;
    try {
      url = new URL(iss);
    } catch {
      return undefined;
    }
    const base = config.publicUrl;
    const hostname = hostnameOf(url.host);
    const tenant = hostname.endsWith(`.${base.hostname}`) && url.port === base.port
      ? await registry.bySlug(hostname.slice(0, -(base.hostname.length + 1)))
      : await registry.byDomain(url.host);
    return tenant && issuerFor(tenant, config) === iss ? tenant : undefined;
  }

  return async function authenticateApi(ctx: Context, next: Next): Promise<void> {
    const header = ctx.get('authorization');
    const match = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/i.exec(header);
    if (!match) throw unauthorized('a Bearer access token is required');
    const token = match[1]!;
    try {
      const iss = decodeJwt(token).iss;
      const tenant = typeof iss === 'string' ? await issuingTenant(iss) : undefined;
      if (!tenant) throw unauthorized('the access token is invalid or expired');
      if (tenant.status !== 'active') throw unauthorized('the issuing tenant is suspended');
      const { payload } = await jwtVerify(token, await keySet(tenant), { issuer: issuerFor(tenant, config), audience, typ: 'at+jwt', algorithms: ['ES256', 'RS256'] });
      const clientId = typeof payload.client_id === 'string' ? payload.client_id : undefined;
      const client = clientId ? await runAsTenant(tenant.id, () => materials.client(tenant, clientId)) : undefined;
      if (!client || !mayCallApi(client)) throw unauthorized('the client of this access token no longer exists or may no longer use the API');
      const registered = new Set(typeof client.scope === 'string' ? client.scope.split(' ') : []);
      ctx.state.principal = {
        clientId: client.client_id,
        // What the token was granted and its client still holds; a scope since removed is a 403 below.
        scopes: new Set(typeof payload.scope === 'string' ? payload.scope.split(' ').filter((s) => registered.has(s)) : []),
        tenant: tenant.slug === platformTenantSlug(config) ? undefined : { id: tenant.id, slug: tenant.slug },
      } satisfies ApiPrincipal;
      // Every change this request makes is audited as this client, whichever service records it.
      const context = currentContext();
      if (context) context.actor = { type: 'client', id: apiActor(ctx), ip: ctx.ip, userAgent: ctx.get('user-agent') };
    } catch (err) {
      if (err instanceof joseErrors.JOSEError) throw unauthorized('the access token is invalid or expired');
      throw err;
    }
    await next();
  };
}

/**
 * Whether the client may still obtain API tokens: without the client_credentials grant it
 * cannot, and what it can no longer obtain it may no longer use (Atrium's clients have no
 * other "disabled" state).
 */
function mayCallApi(client: ClientMetadata): boolean {
  const grantTypes = Array.isArray(client.grant_types) ? client.grant_types : ['authorization_code'];
  return grantTypes.includes('client_credentials');
}

/** The tenant scope that stands for a platform scope when a tenant manages itself. */
const OWN_TENANT_EQUIVALENT: Partial<Record<PlatformScope, string>> = {
  'atrium:tenants:read': 'atrium:tenant:read',
  'atrium:cross-tenant:read': 'atrium:tenant:read',
  'atrium:tenants:write': 'atrium:tenant:write',
  'atrium:cross-tenant:write': 'atrium:tenant:write',
};

/** The `atrium:tenant:*` scope a tenant's own token needs where a platform token needs `scope` (none: never its). */
export function tenantScopeFor(scope: PlatformScope): string | undefined {
  return OWN_TENANT_EQUIVALENT[scope];
}

/**
 * Checks the route's scope before anything is looked up. A tenant's own token passes only
 * for routes of its own tenant (another tenant is simply not found, so nothing leaks) and
 * only with the matching `atrium:tenant:*` scope; platform-wide routes are never its.
 */
export function requireScope(scope: PlatformScope) {
  return async function checkScope(ctx: Context, next: Next): Promise<void> {
    const principal = ctx.state.principal;
    if (!principal) throw unauthorized();
    if (principal.tenant) {
      const needed = OWN_TENANT_EQUIVALENT[scope];
      const slug = typeof ctx.params?.slug === 'string' ? ctx.params.slug : undefined;
      if (!needed || !slug) throw forbidden('a tenant token can only manage its own tenant', 'insufficient_scope');
      if (slug !== principal.tenant.slug) throw notFound(`no tenant with slug "${slug.slice(0, 64)}"`);
      if (!principal.scopes.has(needed)) throw forbidden(`this operation requires the ${needed} scope`);
    } else if (!principal.scopes.has(scope)) {
      throw forbidden(`this operation requires the ${scope} scope`);
    }
    await next();
  };
}
