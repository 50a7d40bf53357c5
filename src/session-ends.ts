/**
 * Wiring of what happens when a session begins and ends, across domains that do not import
 * each other: an upstream sign-in is bound to the session it made; a sign-out goes through
 * the session's upstream (interactions/federated-sign-out.ts); and a session ended by a
 * query (a revoke, a password reset, "sign out everywhere") sends its logout tokens
 * (oidc/backchannel-logout.ts) and forgets its upstream sign-in.
 */
import type { AtriumConfig } from './config/env.ts';
import type { AuditLog } from './audit/audit-log.ts';
import type { SecretBox } from './core/secret-box.ts';
import type { Database } from './storage/database.ts';
import { currentTenantId } from './core/request-context.ts';
import type { Federation } from './federation/federation.ts';
import type { GrantStore } from './oidc/grant-store.ts';
import { sendLogoutTokens } from './oidc/backchannel-logout.ts';
import type { ProviderDeps } from './oidc/provider-factory.ts';
import type { ProviderPool } from './runtime/provider-pool.ts';
import type { TenantRegistry } from './tenancy/tenant-registry.ts';
import { issuerFor } from './tenancy/tenant.ts';
import { FederatedSignOut } from './interactions/federated-sign-out.ts';
import type { UpstreamSignOut } from './console/console-sign-in.ts';
import type { UserSessionService } from './accounts/user-sessions.ts';
import { upstreamVerdict } from './federation/introspection.ts';

/**
 * The hooks for an upstream's sessions: bind at sign-in, leave through the upstream at
 * sign-out. `onSignedOut` is the Providers' (RP-initiated logout); `leave` is the same
 * sign-out for the console's own door (POST /account/logout).
 */
export function upstreamSessionHooks(d: { config: AtriumConfig; db: Pick<Database, 'withTenant'>; box: SecretBox; audit: AuditLog; federation: Federation; userSessions: Pick<UserSessionService, 'revoke'> }): Required<Pick<ProviderDeps, 'onSignedOut' | 'onRefresh'>> & { bind: NonNullable<ProviderDeps['onSignedIn']>; leave: UpstreamSignOut } {
  const signOut = new FederatedSignOut({ config: d.config, box: d.box, audit: d.audit, ...d.federation.flow });
  const leave: UpstreamSignOut = (tenant, ctx, session, then) => signOut.leave(ctx, tenant, issuerFor(tenant, d.config), session, then);
  return {
    leave,
    async bind(_tenant, signIn) {
      if (signIn.interactionUid && signIn.amr.includes('fed')) await d.federation.flow.sessions.bind(signIn.interactionUid, signIn.sessionUid, signIn.userId);
    },
    onSignedOut: leave,
    onRefresh: (tenant, refresh, endGrant) => refreshAgainstUpstream(d, tenant.id, refresh, endGrant),
  };
}

/**
 * A refresh of a session from an upstream with `introspection_endpoint`
 * (federation/introspection.ts). Inactive upstream: the grant, the local session and the
 * record of the upstream sign-in end, and the audit says why. Unreachable: nothing ends
 * (the refresh is a 503), and the audit says so too.
 */
async function refreshAgainstUpstream(
  d: { db: Pick<Database, 'withTenant'>; audit: AuditLog; federation: Federation; userSessions: Pick<UserSessionService, 'revoke'> },
  tenantId: string,
  refresh: Parameters<NonNullable<ProviderDeps['onRefresh']>>[1],
  endGrant: () => Promise<void>,
): Promise<'unchecked' | 'active' | 'inactive' | 'unavailable'> {
  const verdict = await upstreamVerdict({ ...d.federation.flow, together: (reads) => d.db.withTenant(() => reads()) }, tenantId, refresh);
  if (verdict.outcome === 'unchecked' || verdict.outcome === 'active') return verdict.outcome;
  let sessionEnded = false;
  if (verdict.outcome === 'inactive') {
    // Session, then grant, then the record of the upstream sign-in: should storage fail part-way
    // (a 503), the client's retry is refused again and finishes the job, as the record remains.
    if (refresh.sessionUid) sessionEnded = await d.userSessions.revoke(refresh.accountId, `signin:${refresh.sessionUid}`, { actor: null });
    await endGrant();
    if (refresh.sessionUid) await d.federation.flow.sessions.forget([refresh.sessionUid]);
  }
  await d.audit.record({
    action: 'federation.refresh_refused',
    outcome: 'failure',
    actor: null,
    target: refresh.accountId,
    details: { connection: verdict.connection, client_id: refresh.clientId, verdict: verdict.outcome, reason: verdict.reason, grant_ended: verdict.outcome === 'inactive', session_ended: sessionEnded },
  });
  return verdict.outcome;
}

/** Sessions ended by a query: their logout tokens go out, their upstream sign-ins are forgotten. */
export function announceEndedSessions(d: { grants: GrantStore; federation: Federation; registry: TenantRegistry; pool: ProviderPool; audit: AuditLog }): void {
  d.grants.onSessionsEnded(async (ended) => {
    const tenantId = currentTenantId();
    if (!tenantId) return;
    await d.federation.flow.sessions.forget(ended.map((s) => s.uid));
    const tenant = await d.registry.byId(tenantId);
    if (!tenant) return;
    const { provider } = await d.pool.get(tenant);
    await sendLogoutTokens(provider, ended, d.audit);
  });
}
