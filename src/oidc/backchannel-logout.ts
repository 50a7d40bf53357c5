/**
 * Back-Channel Logout 1.0 as OP, for sessions that end without oidc-provider's end_session
 * (which sends logout tokens itself): a session revoked from /account or /admin or the API,
 * every session of a user whose password was reset or who was signed out everywhere. Those
 * paths delete the Session rows directly (grant-store.ts), which oidc-provider never sees,
 * so the rows' payloads (the account, and a `sid` per client) are read as they are deleted
 * and the logout tokens are sent here, by oidc-provider's own `Client#backchannelLogout`
 * (its token format and signing keys; its `fetch`, i.e. the egress guard).
 *
 * A logout token tells the relying party the session is over, so it goes out only once the
 * session's end is committed: grant-store.ts announces ended sessions after the commit, and
 * oidc-provider's own end_session, which sends its tokens before it destroys the session
 * (lib/actions/end_session.js), has them held here until its request is done.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type Provider from 'oidc-provider';
import type { KoaContextWithOIDC } from 'oidc-provider';
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
  const target = client;
  await sendAudited(() => target.backchannelLogout(accountId, sid), clientId, accountId, sid, 'session_revoked', audit);
}

/** Sends one logout token and audits the outcome; a failed delivery is audited, never thrown. */
async function sendAudited(send: () => Promise<void>, clientId: string, accountId: string, sid: string | undefined, path: 'session_revoked' | 'end_session', audit: AuditLog): Promise<void> {
  try {
    await send();
    await audit.record({ action: 'oidc.backchannel_logout', actor: null, target: accountId, details: { client_id: clientId, sid: sid ?? null, path } });
  } catch (err) {
    const reason = err instanceof Error ? err.message.slice(0, 300) : 'delivery failed';
    await audit.record({ action: 'oidc.backchannel_logout', outcome: 'failure', actor: null, target: accountId, details: { client_id: clientId, sid: sid ?? null, path, reason } });
  }
}

/** Logout tokens oidc-provider asked to send during the request being served (held until it is done). */
const held = new AsyncLocalStorage<(() => Promise<void>)[]>();

/**
 * Holds the logout tokens oidc-provider sends at end_session until the request is done, i.e.
 * the session destroyed: oidc-provider sends (and awaits) them before `session.destroy()`, so
 * a relying party told "signed out" could still find the session live, and a failed destroy
 * would leave a session its relying parties believe ended. Patches this Provider's own
 * Client class (each Provider has its own), so logout tokens sent outside a request
 * (`sendLogoutTokens`) go at once. Answers the middleware that holds and then sends them,
 * to go inside the outage handler: a request that failed sends none.
 */
export function logoutTokensAfterTheRequest(provider: Provider, audit: AuditLog): (ctx: KoaContextWithOIDC, next: () => Promise<void>) => Promise<void> {
  const prototype = provider.Client.prototype as unknown as { backchannelLogout: (this: LogoutClient, sub: string, sid: string | undefined) => Promise<void> };
  const sendNow = prototype.backchannelLogout;
  prototype.backchannelLogout = function holdUntilDone(this: LogoutClient, sub: string, sid: string | undefined): Promise<void> {
    const queue = held.getStore();
    if (!queue) return sendNow.call(this, sub, sid);
    queue.push(() => sendAudited(() => sendNow.call(this, sub, sid), this.clientId, sub, sid, 'end_session', audit));
    return Promise.resolve();
  };
  return async function sendHeldLogoutTokens(_ctx, next) {
    const queue: (() => Promise<void>)[] = [];
    await held.run(queue, next);
    await Promise.all(queue.map((send) => send()));
  };
}
