/**
 * The Provider's side of a connection's `introspection_endpoint` (federation/introspection.ts):
 * at each refresh_token grant, called from `findAccount` (provider-configuration.ts), the
 * refresh is refused when the session's upstream no longer vouches for it (invalid_grant,
 * the grant ended) or cannot be asked (503, nothing ended).
 */
import { errors, type KoaContextWithOIDC } from 'oidc-provider';
import type { Tenant } from '../tenancy/tenant.ts';
import { unlessStorageDown } from './adapter.ts';

/** The hook (session-ends.ts): on 'inactive' it has called `endGrant` and ended the session. */
export type RefreshHook = (tenant: Tenant, refresh: RefreshCheck, endGrant: () => Promise<void>) => Promise<'unchecked' | 'active' | 'inactive' | 'unavailable'>;

/** The refresh token being redeemed, as the upstream check needs it. */
export interface RefreshCheck {
  accountId: string;
  clientId: string;
  sessionUid?: string;
  amr?: readonly string[];
}

/** The upstream could not be asked (introspection at refresh): nothing issued, the refresh token kept for a retry. */
class UpstreamUnavailable extends errors.OIDCProviderError {
  constructor() {
    super(503, 'temporarily_unavailable');
    this.error_description = 'the upstream identity provider could not be asked whether this sign-in is still valid; try again shortly';
    this.expose = true;
  }
}

export interface RefreshTokenLike {
  accountId: string;
  clientId: string;
  grantId: string;
  sessionUid?: string;
  amr?: string[];
}

/** Refuses the refresh when the session's upstream no longer vouches for it (invalid_grant, the grant ended) or cannot be asked (503). */
export async function upstreamStillVouches(tenant: Tenant, ctx: KoaContextWithOIDC, token: RefreshTokenLike, onRefresh: RefreshHook): Promise<void> {
  const endGrant = async () => {
    const { provider } = ctx.oidc;
    // Every token of the grant (the adapter's revokeByGrantId takes all models), then the grant.
    await provider.RefreshToken.adapter.revokeByGrantId(token.grantId);
    await (await provider.Grant.find(token.grantId))?.destroy();
  };
  // Our own storage failing on the way (the sign-in's record, the audit) is a 503 like any storage outage here, never a 500.
  const verdict = await unlessStorageDown(() => onRefresh(tenant, { accountId: token.accountId, clientId: token.clientId, sessionUid: token.sessionUid, amr: token.amr }, endGrant));
  if (verdict === 'inactive') {
    const refused = new errors.InvalidGrant('the upstream identity provider no longer vouches for this sign-in');
    refused.error_description = 'the upstream identity provider no longer vouches for this sign-in; sign in again';
    throw refused;
  }
  if (verdict === 'unavailable') throw new UpstreamUnavailable();
}
