/**
 * Builds one tenant's oidc-provider instance from its record, keys and configuration.
 * A Provider cannot swap keys or configuration while running, so every change builds a
 * new one (see tenancy/provider-pool.ts).
 */
import { createSecretKey, type KeyObject } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import Provider, { type KoaContextWithOIDC } from 'oidc-provider';
import type { Tenant } from '../tenancy/tenant.ts';
import { issuerFor } from '../tenancy/tenant.ts';
import { pinOriginToIssuer } from './issuer-origin.ts';
import { shareKoaPrototypes } from './shared-koa-prototypes.ts';
import { currentContext } from '../core/request-context.ts';
import { commitHeldWrites } from './adapter.ts';
import { authorizationWritesTogether, signInWritesTogether, tokenWritesTogether } from './request-writes.ts';
import { providerConfiguration, renderProviderPage, type ProviderDeps } from './provider-configuration.ts';
import { unavailable } from '../core/errors.ts';
import { logoutTokensAfterTheRequest } from './backchannel-logout.ts';

export { OIDC_SCOPES, type CompletedSignIn, type ProviderDeps } from './provider-configuration.ts';

export interface ProviderRuntime {
  readonly tenant: Tenant;
  readonly issuer: string;
  readonly provider: Provider;
  /** oidc-provider's own request handler (discovery, authorization, token, ...). */
  readonly handle: (req: IncomingMessage, res: ServerResponse) => Promise<void>;
  /** Keys for CSRF tokens on this tenant's forms (current first); KeyObjects, which createHmac takes far faster than Buffers. */
  readonly csrfKeys: readonly KeyObject[];
  /** Runs the work of a page of the interaction `uid` with its oidc-provider writes held and committed together, its reads read ahead (request-writes.ts). */
  readonly writesTogether: <T>(work: () => Promise<T>, uid: string) => Promise<T>;
}

export async function buildProviderRuntime(tenant: Tenant, deps: ProviderDeps): Promise<ProviderRuntime> {
  const issuer = issuerFor(tenant, deps.config);
  // Imported once per tenant version and shared by its Providers (tenant-signing-key.ts).
  const jwks = await deps.materials.signingKeys(tenant);
  const provider = new Provider(issuer, providerConfiguration(tenant, issuer, jwks, deps));
  // Every tenant's requests then have the same object shapes (shared-koa-prototypes.ts).
  shareKoaPrototypes(provider);
  // As the outer app: the forwarding headers were vetted at the edge (http/client-address.ts).
  provider.proxy = true;
  // The URLs it writes come from the issuer, never from the request's Host (issuer-origin.ts).
  pinOriginToIssuer(provider, issuer);
  provider.use(outageAnswered(tenant));
  provider.use(addCorrelationIdToErrors);
  // Logout tokens of end_session go once the session is destroyed, and are audited there
  // (oidc-provider's backchannel.success would fire when they were merely held).
  provider.use(logoutTokensAfterTheRequest(provider, deps.audit));
  if (deps.onSignedOut) provider.use(afterSignOut(tenant, issuer, deps.onSignedOut));
  // Inside the correlation id step, so a 503 from the commit carries one too.
  const commit = commitHeldWrites(deps.db, tenant.id);
  provider.use(tokenWritesTogether(commit));
  provider.use(authorizationWritesTogether(commit));
  provider.on('server_error', (_ctx: unknown, err: Error) => currentContext()?.log?.error({ err }, 'oidc-provider server error'));
  provider.on('end_session.success', (ctx: KoaContextWithOIDC) => {
    void deps.audit.record({ action: 'user.sign_out', actor: ctx.oidc.session?.accountId ?? null, target: ctx.oidc.client?.clientId ?? null, ip: ctx.ip, userAgent: ctx.get('user-agent') });
  });
  provider.on('authorization.success', (ctx: KoaContextWithOIDC) => {
    const session = ctx.oidc.session;
    if (!session?.accountId || !session.uid || !deps.onSignedIn) return;
    const interactionUid = (ctx.oidc.entities as { Interaction?: { uid: string } }).Interaction?.uid;
    const signIn = { sessionUid: session.uid, userId: session.accountId, ip: ctx.ip, userAgent: ctx.get('user-agent'), amr: session.amr ?? [], interactionUid };
    deps.onSignedIn(tenant, signIn).catch((err: unknown) => currentContext()?.log?.warn({ err }, 'could not record the sign-in'));
  });
  // Emitted once per successful token endpoint grant (lib/actions/token.js), after the handler answered.
  provider.on('grant.success', (ctx: KoaContextWithOIDC) => deps.metrics.tokenIssued(tenant.slug, ctx.oidc.params?.grant_type));
  provider.on('grant.revoked', (ctx: KoaContextWithOIDC, grantId: string) => {
    void deps.audit.record({ action: 'grant.revoked', actor: ctx.oidc?.client?.clientId ?? null, target: grantId, ip: ctx.ip, userAgent: ctx.get('user-agent') });
  });

  const callback = provider.callback() as (req: IncomingMessage, res: ServerResponse) => Promise<void>;
  return Object.freeze({
    tenant,
    issuer,
    provider,
    handle: callback,
    csrfKeys: deps.box.deriveKeys('csrf', tenant.id).map((key) => createSecretKey(key)),
    writesTogether: <T>(work: () => Promise<T>, uid: string) => signInWritesTogether(commit, work, uid),
  });
}

/**
 * After end_session's confirmation ended the whole session (`logout=yes`), the browser may
 * have somewhere to go first: the upstream the session came from (interactions/
 * federated-sign-out.ts). oidc-provider has no hook between ending the session and its
 * redirect, so its answer is rewritten here; the relying party's own address (with its
 * state) is carried to the return route.
 */
function afterSignOut(tenant: Tenant, issuer: string, onSignedOut: NonNullable<ProviderDeps['onSignedOut']>) {
  return async function redirectThroughUpstream(ctx: KoaContextWithOIDC, next: () => Promise<void>): Promise<void> {
    await next();
    if (ctx.oidc?.route !== 'end_session_confirm' || ctx.status !== 303 || !ctx.oidc.params?.logout) return;
    const session = ctx.oidc.session;
    const then = ctx.response.get('location');
    if (!session?.uid || !then) return;
    const upstream = await onSignedOut(tenant, ctx, { uid: session.uid, accountId: session.accountId ?? null }, new URL(then, issuer).href);
    if (upstream) ctx.redirect(upstream);
  };
}

/** oidc-provider renders its own JSON errors; give them the request's correlation id too. */
async function addCorrelationIdToErrors(ctx: KoaContextWithOIDC, next: () => Promise<void>): Promise<void> {
  await next();
  if (ctx.status === 404 && ctx.body === undefined) {
    // No oidc-provider route matched: the same error shape as everything else, not Koa's text.
    ctx.status = 404;
    ctx.body = { error: 'not_found', error_description: 'no such endpoint', correlation_id: currentContext()?.correlationId };
    return;
  }
  const body = ctx.body as Record<string, unknown> | undefined;
  if (ctx.status >= 400 && body && typeof body === 'object' && !Buffer.isBuffer(body) && 'error' in body) {
    body.correlation_id = currentContext()?.correlationId;
  }
}

/**
 * oidc-provider saves a touched session after its own error handling (ensureSessionSave in
 * its initialize_app.js), so a lost database there escapes every handler of its own to
 * Koa's last resort, which clears every header (the correlation id, the security headers)
 * and answers in plain text. A storage outage is answered here instead, like any other:
 * 503, a correlation id, a branded page for a browser.
 */
function outageAnswered(tenant: Tenant) {
  return async function answerOutage(ctx: KoaContextWithOIDC, next: () => Promise<void>): Promise<void> {
    try {
      await next();
    } catch (err) {
      if ((err as { status?: number }).status !== 503) throw err;
      const outage = unavailable();
      currentContext()?.log?.warn({ err }, 'storage unavailable after oidc-provider answered');
      ctx.status = 503;
      ctx.set(outage.headers);
      if (ctx.accepts('json', 'html') === 'html') {
        await renderProviderPage(ctx, tenant, 'error', (t) => ({ title: 'common.error_title', heading: t('common.error_title'), message: outage.message }));
      } else {
        ctx.body = { error: outage.code, error_description: outage.message, correlation_id: currentContext()?.correlationId };
      }
    }
  };
}
