/**
 * A connection's `introspection_endpoint` (issue 14, item 3): at each refresh of a session
 * that came through the connection, the upstream is asked (RFC 7662) whether the token it
 * issued at that sign-in is still active, so a user disabled or signed out upstream loses
 * access at their next refresh here. This module only reaches the verdict; ending the local
 * session and the grant is the caller's (session-ends.ts, oidc/provider-configuration.ts).
 *
 * Verdicts, and why (DESIGN.md "Upstream introspection at refresh"):
 *   unchecked    the session did not come through a connection with introspection;
 *   active       the upstream said `active: true` (for the subject of the sign-in);
 *   inactive     the upstream said `active: false`, or answered the request with an OAuth
 *                error about the token, or the sign-in can no longer be checked (the
 *                connection is gone, the upstream token was never kept, the record of the
 *                upstream sign-in is gone): the refresh is `invalid_grant`, the grant ends;
 *   unavailable  the upstream could not be asked (network, timeout, 5xx, egress refused, our
 *                own client credentials refused): fail closed, but keep the grant: a 503,
 *                and the same refresh token works once the upstream answers again.
 */
import * as oidc from 'openid-client';
import { findEgressRefusal } from '../core/egress-guard.ts';
import type { FederationFlowParts } from './federation.ts';
import type { StoredConnection } from './connection-store.ts';
import type { UpstreamToken } from './federated-session-store.ts';
import { describe, upstreamErrorCode } from './federation-service.ts';

/** The refresh token being redeemed, as far as the check needs it. */
export interface RefreshBeingRedeemed {
  accountId: string;
  sessionUid?: string;
  amr?: readonly string[];
}

export type UpstreamVerdict =
  | { outcome: 'unchecked' }
  | { outcome: 'active'; connection: string }
  | { outcome: 'inactive' | 'unavailable'; connection: string | null; reason: string };

type Parts = Pick<FederationFlowParts, 'connections' | 'clients' | 'sessions' | 'identities'> & {
  /** Runs the reads in one transaction of the tenant (one round trip; the upstream is asked outside it). */
  together: <T>(reads: () => Promise<T>) => Promise<T>;
};

/** Our own credentials refused: a misconfiguration of the connection, not the upstream's word on the user. */
const OUR_CREDENTIALS_REFUSED = new Set(['invalid_client', 'unauthorized_client']);

type Asking = { ask: { connection: StoredConnection; token: UpstreamToken; upstreamSub: string } };

export async function upstreamVerdict(parts: Parts, tenantId: string, refresh: RefreshBeingRedeemed): Promise<UpstreamVerdict> {
  // Only a sign-in through an upstream (`amr` fed) is bound to an upstream sign-in
  // (session-ends.ts): any other refresh costs no query here.
  if (!refresh.amr?.includes('fed')) return { outcome: 'unchecked' };
  const known = await parts.together(() => whatToAsk(parts, tenantId, refresh));
  if (!('ask' in known)) return known;
  const { connection, token, upstreamSub } = known.ask;
  const name = connection.name;
  let answer: oidc.IntrospectionResponse;
  try {
    const configuration = await parts.clients.configuration(tenantId, connection, () => parts.connections.secret(tenantId, name));
    answer = await oidc.tokenIntrospection(configuration, token.value, { token_type_hint: token.kind });
  } catch (err) {
    if (findEgressRefusal(err)) return { outcome: 'unavailable', connection: name, reason: 'destination_not_allowed' };
    const code = upstreamErrorCode(err);
    if (code && !OUR_CREDENTIALS_REFUSED.has(code) && err instanceof oidc.ResponseBodyError && err.status < 500) return { outcome: 'inactive', connection: name, reason: `upstream_refused:${code}` };
    return { outcome: 'unavailable', connection: name, reason: `upstream_unreachable: ${describe(err)}` };
  }
  if (answer.active !== true) return { outcome: 'inactive', connection: name, reason: 'upstream_inactive' };
  if (typeof answer.sub === 'string' && answer.sub !== upstreamSub) return { outcome: 'inactive', connection: name, reason: 'upstream_subject_mismatch' };
  return { outcome: 'active', connection: name };
}

/** From the database alone: a verdict already, or what to ask the upstream about. */
async function whatToAsk(parts: Parts, tenantId: string, refresh: RefreshBeingRedeemed): Promise<UpstreamVerdict | Asking> {
  const signIn = refresh.sessionUid ? await parts.sessions.ofSession(tenantId, refresh.sessionUid) : undefined;
  if (!signIn) return unknownSignIn(parts, refresh);
  const connection = await parts.connections.get(signIn.connectionName);
  // A connection deleted while its sessions live: one that was introspecting can no longer vouch.
  if (!connection) return signIn.upstreamToken ? { outcome: 'inactive', connection: signIn.connectionName, reason: 'connection_removed' } : { outcome: 'unchecked' };
  if (!connection.settings.introspection_endpoint) return { outcome: 'unchecked' };
  // Signed in before introspection was switched on: nothing to ask about, so no refresh.
  if (!signIn.upstreamToken) return { outcome: 'inactive', connection: connection.name, reason: 'no_upstream_token' };
  return { ask: { connection, token: signIn.upstreamToken, upstreamSub: signIn.upstreamSub } };
}

/**
 * No record of the session's upstream sign-in (it expired, or the refresh token outlived its
 * session). A refresh token from an upstream sign-in (`amr` fed) of a user linked to a
 * connection with introspection cannot be checked any more, so it is refused rather than
 * let through unchecked.
 */
async function unknownSignIn(parts: Parts, refresh: RefreshBeingRedeemed): Promise<UpstreamVerdict> {
  for (const name of await parts.identities.connectionsOf(refresh.accountId)) {
    const connection = await parts.connections.get(name);
    if (connection?.settings.introspection_endpoint) return { outcome: 'inactive', connection: name, reason: 'upstream_sign_in_unknown' };
  }
  return { outcome: 'unchecked' };
}
