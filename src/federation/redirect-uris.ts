/**
 * Where an upstream sends the browser back: the tenant's own callback on its issuer host
 * (at the connection's `redirect_path`, else /federation/callback), or the deployment-wide
 * `_ops` relay on the bare PUBLIC_URL host (one redirect URI to register at the upstream for
 * every tenant). Both are built from the tenant record and PUBLIC_URL, never from request
 * headers.
 */
import type { AtriumConfig } from '../config/env.ts';
import { issuerUrl, type Tenant } from '../tenancy/tenant.ts';

export const TENANT_CALLBACK_PATH = '/federation/callback';
/** Where the relay forwards to: a path of its own, so a callback that took the other road is recognised. */
export const RELAYED_CALLBACK_PATH = '/federation/relayed';
export const RELAY_PATH = '/_ops/federation/callback';
/** Social sign-in's callback (the redirect URI to register at Google, GitHub, ...), under /federation/ so the browser's federation cookie comes along. */
export const SOCIAL_CALLBACK_PATH = '/federation/social/callback';

export function redirectUris(tenant: Pick<Tenant, 'slug' | 'primaryDomain'>, config: AtriumConfig, redirectPath: string | null = null): { tenant: string; relay: string } {
  return { tenant: issuerUrl(tenant, config, redirectPath ?? TENANT_CALLBACK_PATH).href, relay: `${config.publicUrl.origin}${RELAY_PATH}` };
}

/**
 * The redirect grace period (issue 14, item 4): whether `uri`, the tenant redirect URI a
 * pending sign-in was sent upstream with, is the one of the origin the tenant left at its
 * last change of primary domain, within OIDC_REDIRECT_GRACE_PERIOD_SECONDS of that change.
 * Only the origin left last is honoured: one left at an earlier change is refused, and so is
 * the left origin once the grace is over; the new origin's URI is the only one new sign-ins get.
 */
export function withinRedirectGrace(tenant: Pick<Tenant, 'slug' | 'primaryDomain' | 'originChange'>, config: AtriumConfig, redirectPath: string | null, uri: string, now = Date.now()): boolean {
  const change = tenant.originChange;
  if (!change || now - change.at.getTime() > config.oidcRedirectGracePeriodSeconds * 1000) return false;
  return uri === redirectUris({ slug: tenant.slug, primaryDomain: change.previousPrimaryDomain }, config, redirectPath).tenant;
}
