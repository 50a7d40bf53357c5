/**
 * The sessions a user sees (and ends) on their account page, and an admin's "sign this
 * user out everywhere": the user's sign-ins at the tenant (oidc-provider sessions) and the
 * console sessions of Atrium's own pages. Ending a sign-in also ends the console sessions
 * made from it, so the next request in that browser must sign in again.
 */
import { deviceOf } from './device-identity.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { Database, Queryable } from '../storage/database.ts';
import type { ConsoleSessionStore } from './console-session-store.ts';

/** One of the user's live oidc-provider sessions, with what was seen of it. */
export interface SignInSessionRow {
  uid: string;
  createdAt: Date | null;
  expiresAt: Date | null;
  ip: string | null;
  userAgent: string | null;
  amr: string[];
  lastSeenAt: Date | null;
}

/**
 * The user's sign-ins at the tenant in context: rows of the oidc domain, which implements
 * this (oidc/grant-store.ts; wired in services.ts), so accounts writes no table of another.
 */
export interface SignInSessions {
  /** The user's live sessions, newest activity first. */
  listForUser(userId: string): Promise<SignInSessionRow[]>;
  /** Ends one sign-in of the user, in the caller's transaction; how many rows went. */
  endSession(q: Queryable, userId: string, sessionUid: string): Promise<number>;
  /** Ends every sign-in but `keepUid` and withdraws every token (no grant) of the user, in one transaction. */
  endAllButOne(userId: string, keepUid: string | null): Promise<{ signIns: number; tokens: number }>;
  /** Ends every sign-in of the user with its grants and tokens, in one transaction; how many sessions. */
  endAll(userId: string): Promise<number>;
}

export interface SessionView {
  /** `signin:<uid>` or `console:<id hash>`: what the revoke form posts. */
  id: string;
  kind: 'sign_in' | 'console';
  device: string;
  ip: string | null;
  createdAt: Date | null;
  lastSeenAt: Date | null;
  amr: string[];
  /** The session this request belongs to. */
  current: boolean;
}

/** "Chrome on Linux": enough to recognise one's own devices, without a user-agent database. */

export interface AuditMeta {
  actor?: string | null;
  ip?: string | null;
  userAgent?: string | null;
}

export class UserSessionService {
  readonly #db: Database;
  readonly #signIns: SignInSessions;
  readonly #consoles: ConsoleSessionStore;
  readonly #audit: AuditLog;

  constructor(deps: { db: Database; signIns: SignInSessions; consoles: ConsoleSessionStore; audit: AuditLog }) {
    this.#db = deps.db;
    this.#signIns = deps.signIns;
    this.#consoles = deps.consoles;
    this.#audit = deps.audit;
  }

  /**
   * The user's live sessions. `current` names the console session and sign-in of this request;
   * `withNetwork` is the tenant's device matching (device-identity.ts), which names devices.
   */
  async list(userId: string, current: { consoleIdHash?: string; oidcSessionUid?: string | null } = {}, withNetwork = false): Promise<SessionView[]> {
    const [signIns, consoles] = await Promise.all([this.#signIns.listForUser(userId), this.#consoles.listForUser(userId)]);
    const uids = new Set(signIns.map((s) => s.uid));
    const views: SessionView[] = signIns.map((s) => ({
      id: `signin:${s.uid}`,
      kind: 'sign_in',
      device: deviceOf(s.userAgent, s.ip, withNetwork).label,
      ip: s.ip,
      createdAt: s.createdAt,
      lastSeenAt: s.lastSeenAt ?? s.createdAt,
      amr: s.amr,
      current: Boolean(current.oidcSessionUid) && s.uid === current.oidcSessionUid,
    }));
    // Console sessions whose sign-in has ended (or was never linked) are listed on their own.
    for (const c of consoles) {
      if (c.oidcSessionUid && uids.has(c.oidcSessionUid)) continue;
      views.push({ id: `console:${c.idHash}`, kind: 'console', device: deviceOf(c.userAgent, c.ip, withNetwork).label, ip: c.ip, createdAt: c.createdAt, lastSeenAt: c.lastSeenAt, amr: c.amr, current: c.idHash === current.consoleIdHash });
    }
    return views;
  }

  /** Ends one of the user's sessions by its view id; false when the user has no such session. */
  async revoke(userId: string, id: string, meta: AuditMeta = {}): Promise<boolean> {
    const colon = id.indexOf(':');
    const [kind, key] = colon > 0 ? [id.slice(0, colon), id.slice(colon + 1)] : ['', ''];
    // The ending and its audit event (and so its webhook outbox rows) in one transaction.
    return this.#audit.together(async () => {
      let ended = false;
      if (kind === 'signin' && key) ended = await this.#endSignIn(userId, key);
      if (kind === 'console' && key) {
        ended = await this.#consoles.deleteOfUser(key, userId);
      }
      if (ended) await this.#audit.record({ action: 'user.session_revoked', actor: meta.actor === undefined ? userId : meta.actor, target: userId, ip: meta.ip ?? null, userAgent: meta.userAgent ?? null, details: { session: kind } });
      return ended;
    });
  }

  /**
   * Ends one sign-in of the user: its Provider session, its record and the console sessions
   * made from it, in one transaction. False when the user has no such session.
   */
  async #endSignIn(userId: string, sessionUid: string): Promise<boolean> {
    return this.#db.withTenant(async (q) => {
      const signIn = await this.#signIns.endSession(q, userId, sessionUid);
      const consoles = await this.#consoles.deleteMadeFrom(q, sessionUid, userId);
      return signIn + consoles > 0;
    });
  }

  /**
   * After the user changed their password: every other session ends, and every app token
   * issued to the user (from any session) is withdrawn. Whoever knew the old password loses
   * every way back in, a refresh token included; the session the change was made in stays,
   * and its apps sign in again without asking.
   */
  async revokeAllButCurrent(userId: string, current: { consoleIdHash?: string; oidcSessionUid?: string | null }, meta: AuditMeta = {}): Promise<void> {
    await this.#audit.together(async () => {
      const { signIns, tokens } = await this.#signIns.endAllButOne(userId, current.oidcSessionUid ?? null);
      const consoleSessions = await this.#consoles.deleteForUser(userId, { exceptIdHash: current.consoleIdHash });
      const audit = { actor: meta.actor === undefined ? userId : meta.actor, target: userId, ip: meta.ip ?? null, userAgent: meta.userAgent ?? null };
      await this.#audit.record({ action: 'user.sessions_revoked', ...audit, details: { sign_ins: signIns, console_sessions: consoleSessions, kept: 'current' } });
      await this.#audit.record({ action: 'user.tokens_revoked', ...audit, details: { tokens } });
    });
  }

  /**
   * Signs a user of the tenant in context out everywhere: every sign-in session at the
   * tenant and every console session. For admins (/admin, the management API) and for
   * anything that must end a user's access at once (password reset, disabling).
   */
  async revokeAllSessions(userId: string, meta: AuditMeta = {}): Promise<{ signIns: number; consoleSessions: number }> {
    return this.#audit.together(async () => {
      const signIns = await this.#signIns.endAll(userId);
      const consoleSessions = await this.#consoles.deleteForUser(userId);
      await this.#audit.record({ action: 'user.sessions_revoked', actor: meta.actor ?? null, target: userId, ip: meta.ip ?? null, userAgent: meta.userAgent ?? null, details: { sign_ins: signIns, console_sessions: consoleSessions } });
      return { signIns, consoleSessions };
    });
  }
}
