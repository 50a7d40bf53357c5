/**
 * Where an upstream sends the browser back: the tenant's own callback on its issuer host,
 * or the deployment-wide `_ops` relay on the bare PUBLIC_URL host (one redirect URI to
 * register at the upstream for every tenant). Both are built from the tenant record and
 * PUBLIC_URL, never from request headers.
 */
import type { AtriumConfig } from '../config/env.ts';
import { issuerUrl, type Tenant } from '../tenancy/tenant.ts';

export const TENANT_CALLBACK_PATH = '/federation/callback';
/** Where the relay forwards to: a path of its own, so a callback that took the other road is recognised. */
export const RELAYED_CALLBACK_PATH = '/federation/relayed';
export const RELAY_PATH = '/_ops/federation/callback';
/** Social sign-in's callback (the redirect URI to register at Google, GitHub, ...), under /federation/ so the browser's federation cookie comes along. */
export const SOCIAL_CALLBACK_PATH = '/federation/social/callback';

export function redirectUris(tenant: Pick<Tenant, 'slug' | 'primaryDomain'>, config: AtriumConfig): { tenant: string; relay: string } {
  return { tenant: issuerUrl(tenant, config, TENANT_CALLBACK_PATH).href, relay: `${config.publicUrl.origin}${RELAY_PATH}` };
}
