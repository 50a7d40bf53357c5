/** JSON shapes of the management API (snake_case, like OIDC metadata). */
import type { AtriumConfig } from '../config/env.ts';
import type { User } from '../accounts/user-store.ts';
import type { StoredClient } from '../oidc/client-store.ts';
import type { SigningKeyInfo } from '../oidc/signing-keys.ts';
import { keyDeadlines } from '../oidc/key-schedule.ts';
import { issuerFor, type Tenant } from '../tenancy/tenant.ts';

export function tenantJson(tenant: Tenant, config: AtriumConfig) {
  return {
    id: tenant.id,
    slug: tenant.slug,
    name: tenant.name,
    status: tenant.status,
    issuer: issuerFor(tenant, config),
    domains: tenant.domains,
    created_at: tenant.createdAt.toISOString(),
    updated_at: tenant.updatedAt.toISOString(),
  };
}

export function userJson(user: User) {
  return {
    id: user.id,
    email: user.email,
    email_verified: user.emailVerified,
    name: user.name,
    roles: user.roles,
    status: user.status,
    created_at: user.createdAt.toISOString(),
    updated_at: user.updatedAt.toISOString(),
    last_login_at: user.lastLoginAt?.toISOString() ?? null,
    profile: user.profile,
  };
}

/** Client metadata without the secret (it is shown once, at creation). */
export function clientJson(client: StoredClient) {
  const { client_secret: _never, ...metadata } = client.metadata;
  return {
    ...metadata,
    client_id_issued_at: Math.floor(client.createdAt.getTime() / 1000),
    has_client_secret: client.hasSecret,
    updated_at: client.updatedAt.toISOString(),
  };
}

/** A key's public part and dates; `rotates_at` (current keys) and `expires_at` (retired keys) follow the tenant's schedule. */
export function keyJson(key: SigningKeyInfo, tenant: Pick<Tenant, 'config'>) {
  const { rotatesAt, expiresAt } = keyDeadlines(key, tenant);
  return {
    kid: key.kid,
    alg: key.alg,
    status: key.status,
    public_jwk: key.publicJwk,
    created_at: key.createdAt.toISOString(),
    activated_at: key.activatedAt?.toISOString() ?? null,
    retired_at: key.retiredAt?.toISOString() ?? null,
    rotates_at: rotatesAt?.toISOString() ?? null,
    expires_at: expiresAt?.toISOString() ?? null,
  };
}
