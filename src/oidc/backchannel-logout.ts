/**
 * Back-Channel Logout 1.0 as OP, for sessions that end without oidc-provider's end_session
 * (which sends logout tokens itself): a session revoked from /account or /admin or the API,
 * every session of a user whose password was reset or who was signed out everywhere. Those
 * paths delete the Session rows directly (grant-store.ts), which oidc-provider never sees,
 * so the rows' payloads (the account, and a `sid` per client) are read as they are deleted
 * and the logout tokens are sent here, by oidc-provider's own `Client#backchannelLogout`
 * (its token format and signing keys; its `fetch`, i.e. the egress guard).
 */
import type Provider from 'oidc-provider';
import type { AuditLog } from '../audit/audit-log.ts';

/** A session deleted by a query: its uid and what its payload said. */
export interface EndedSession {
  uid: string;
  accountId: string | null;
  /** Client id → the session's `sid` at that client (oidc-provider's `authorizations`). */
  authorizations: Record<string, { sid?: string }>;
}

/** Reads an oidc_payloads Session row's payload into an EndedSession. */
export function endedSession(uid: string, payload: Record<string, unknown>): EndedSession {
  const authorizations = payload.authorizations && typeof payload.authorizations === 'object' ? (payload.authorizations as Record<string, { sid?: string }>) : {};
  return { uid, accountId: typeof payload.accountId === 'string' ? payload.accountId : null, authorizations };
}

interface LogoutClient {
  clientId: string;
  backchannelLogoutUri?: string;
  backchannelLogout(sub: string, sid: string | undefined): Promise<void>;
}

/** Sends a logout token to every client of the ended sessions that registered a backchannel_logout_uri; each delivery is audited. */
export async function sendLogoutTokens(provider: Provider, ended: readonly EndedSession[], audit: AuditLog): Promise<void> {
  const deliveries: Promise<void>[] = [];
  for (const session of ended) {
    if (!session.accountId) continue;
    for (const [clientId, { sid }] of Object.entries(session.authorizations)) {
      deliveries.push(deliver(provider, clientId, session.accountId, sid, audit));
    }
  }
  await Promise.all(deliveries);
}

async function deliver(provider: Provider, clientId: string, accountId: string, sid: string | undefined, audit: AuditLog): Promise<void> {
  let client: LogoutClient | undefined;
  try {
    client = (await provider.Client.find(clientId)) as unknown as LogoutClient | undefined;
  } catch {
    client = undefined;
  }
  if (!client?.backchannelLogoutUri) return;
  try {
    await client.backchannelLogout(accountId, sid);
    await audit.record({ action: 'oidc.backchannel_logout', actor: null, target: accountId, details: { client_id: clientId, sid: sid ?? null, path: 'session_revoked' } });
  } catch (err) {
    const reason = err instanceof Error ? err.message.slice(0, 300) : 'delivery failed';
    await audit.record({ action: 'oidc.backchannel_logout', outcome: 'failure', actor: null, target: accountId, details: { client_id: clientId, sid: sid ?? null, path: 'session_revoked', reason } });
  }
}
