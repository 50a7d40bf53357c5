/**
 * `GET /_ops/federation/callback`: the one redirect URI a deployment registers at an
 * upstream for all its tenants (on the bare PUBLIC_URL host, answered on any host, before
 * tenant resolution). It checks the signed state (MAC and expiry) and forwards (303) to the
 * tenant named in it, on that tenant's issuer host as the tenant record says, with only the
 * authorization response's parameters. It reads no cookie and completes nothing itself: the
 * tenant's callback does every other check.
 */
import type { Context, Next } from 'koa';
import { AppError } from '../core/errors.ts';
import { issuerUrl } from '../tenancy/tenant.ts';
import { withCallbackParams } from './federated-sign-in.ts';
import { FederationError } from '../federation/federation-error.ts';
import { renderFederationError } from './federation-error-page.ts';
import type { InteractionDeps } from './interaction-deps.ts';
import { enterTenant } from '../web/enter-tenant.ts';
import { RELAY_PATH, RELAYED_CALLBACK_PATH } from '../federation/redirect-uris.ts';
import { verifyState } from '../federation/signed-state.ts';

export function federationRelay(deps: Pick<InteractionDeps, 'config' | 'box' | 'registry' | 'audit' | 'runtimes'>) {
  return async function relayFederationCallback(ctx: Context, next: Next): Promise<void> {
    if (ctx.path !== RELAY_PATH) return next();
    if (ctx.method !== 'GET') throw new AppError('method_not_allowed', 405, 'method not allowed on this resource');
    ctx.set('Cache-Control', 'no-store');
    const verified = verifyState(deps.box, ctx.query.state);
    const tenant = verified ? await deps.registry.byId(verified.tenantId) : undefined;
    if (!verified || !tenant || tenant.status !== 'active') return renderFederationError(ctx, new FederationError('state_invalid', 400));
    // From here on the page is the tenant's, and so is the audit trail.
    enterTenant(ctx, deps.runtimes.for(tenant));
    if (verified.expired) {
      const error = new FederationError('state_expired', 400);
      await deps.audit.record({ action: 'federation.sign_in', outcome: 'failure', actor: null, target: null, ip: ctx.ip, userAgent: ctx.get('user-agent'), details: { reason: error.code, road: 'relay', expired_at: verified.expiresAt.toISOString() } });
      return renderFederationError(ctx, error);
    }
    ctx.status = 303;
    ctx.redirect(withCallbackParams(issuerUrl(tenant, deps.config, RELAYED_CALLBACK_PATH).href, ctx.query).href);
  };
}
