/**
 * The grants a tenant offers (`oidc.enabled_grants`). A grant switched off is not offered by
 * the tenant's Provider at all (provider-configuration.ts): it leaves discovery and the token
 * endpoint answers `unsupported_grant_type`, the direct client_credentials issuer included.
 *
 * Clients are not rewritten: each keeps its registered grants, and the Provider sees it
 * without the ones switched off (a client naming a grant the Provider does not offer would
 * be refused whole), so its other grants keep working and the switched-off ones come back
 * when the grant is switched on again. Refresh tokens already issued are kept, not revoked.
 */
import type { Tenant } from '../tenancy/tenant.ts';
import { perTenantRecord } from '../tenancy/per-tenant-record.ts';
import { mergedSection } from '../tenancy/tenant-config.ts';
import type { GrantType } from '../config/tenant-config-schema.ts';
import type { ClientMetadata } from './client-store.ts';

/** Once per tenant record (tenancy/per-tenant-record.ts). */
export const enabledGrants = perTenantRecord((tenant: Pick<Tenant, 'config'>): ReadonlySet<GrantType> => new Set(mergedSection(tenant, 'oidc').enabled_grants as GrantType[]));

/** The scopes the Provider offers: `offline_access` asks for a refresh token, so it goes with that grant. */
export function offeredScopes(scopes: readonly string[], enabled: ReadonlySet<GrantType>): string[] {
  return enabled.has('refresh_token') ? [...scopes] : scopes.filter((scope) => scope !== 'offline_access');
}

/** The client as the tenant's Provider sees it: without the grant types (and `offline_access`) switched off for the tenant. */
export function withEnabledGrants(client: ClientMetadata, enabled: ReadonlySet<GrantType>): ClientMetadata {
  const grants = Array.isArray(client.grant_types) ? (client.grant_types as string[]) : undefined;
  const scope = typeof client.scope === 'string' ? client.scope : undefined;
  const keptGrants = grants?.filter((grant) => enabled.has(grant as GrantType));
  const keptScope = scope === undefined ? undefined : offeredScopes(scope.split(' '), enabled).join(' ');
  if (keptGrants?.length === grants?.length && keptScope === scope) return client;
  return { ...client, ...(keptGrants ? { grant_types: keptGrants } : {}), ...(keptScope !== undefined ? { scope: keptScope } : {}) };
}
