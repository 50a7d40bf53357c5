/**
 * Bearer authentication for the management API: a JWT access token issued by the platform
 * tenant for the API audience, verified locally against that tenant's published keys.
 */
import type { Context, Next } from 'koa';
import { createLocalJWKSet, errors as joseErrors, jwtVerify } from 'jose';
import type { AtriumConfig } from '../config/env.ts';
import { forbidden, unauthorized, unavailable } from '../http/errors.ts';
import { managementApiAudience, type PlatformScope } from '../oidc/api-resource.ts';
import type { SigningKeyStore } from '../oidc/signing-keys.ts';
import { issuerFor, platformTenantSlug, type Tenant } from '../tenancy/tenant.ts';
import type { TenantRegistry } from '../tenancy/tenant-registry.ts';
import { runAsTenant } from '../tenancy/request-context.ts';

export interface ApiPrincipal {
  clientId: string;
  scopes: ReadonlySet<string>;
}

export function apiAuthentication(config: AtriumConfig, registry: TenantRegistry, keys: SigningKeyStore) {
  const audience = managementApiAudience(config);
  let cached: { version: number; jwks: ReturnType<typeof createLocalJWKSet> } | undefined;

  async function keySet(platform: Tenant) {
    if (cached?.version !== platform.version) {
      const list = await runAsTenant(platform.id, () => keys.list());
      cached = { version: platform.version, jwks: createLocalJWKSet({ keys: list.map((k) => k.publicJwk) }) };
    }
    return cached.jwks;
  }

  return async function authenticateApi(ctx: Context, next: Next): Promise<void> {
    const header = ctx.get('authorization');
    const match = /^Bearer ([A-Za-z0-9._~+/-]+=*)$/i.exec(header);
    if (!match) throw unauthorized('a Bearer access token from the platform tenant is required');
    const platform = await registry.bySlug(platformTenantSlug(config));
    if (!platform) throw unavailable('the platform tenant is not initialised');
    if (platform.status !== 'active') throw unauthorized('the platform tenant is suspended');
    try {
      const { payload } = await jwtVerify(match[1]!, await keySet(platform), {
        issuer: issuerFor(platform, config),
        audience,
        typ: 'at+jwt',
        algorithms: ['ES256', 'RS256'],
      });
      ctx.state.principal = {
        clientId: typeof payload.client_id === 'string' ? payload.client_id : '',
        scopes: new Set(typeof payload.scope === 'string' ? payload.scope.split(' ') : []),
      } satisfies ApiPrincipal;
    } catch (err) {
      if (err instanceof joseErrors.JOSEError) throw unauthorized('the access token is invalid or expired');
      throw err;
    }
    await next();
  };
}

export function requireScope(scope: PlatformScope) {
  return async function checkScope(ctx: Context, next: Next): Promise<void> {
    const principal = ctx.state.principal as ApiPrincipal | undefined;
    if (!principal?.scopes.has(scope)) throw forbidden(`this operation requires the ${scope} scope`);
    await next();
  };
}
