/**
 * The writes of one request to oidc-provider's storage, held back and committed in one
 * transaction (one round trip to a server), and its reads remembered for the request.
 *
 * At the token endpoint (`tokenWritesTogether`): oidc-provider marks a code or refresh token
 * used, then saves what it issues, each through its own adapter call. As separate
 * transactions, a storage failure between them left the old one spent and nothing issued:
 * the client's retry then read as a replay (`invalid_grant`, and the whole grant revoked)
 * because of an outage of ours. Held together, a 503 means nothing happened, and the same
 * request may be sent again. There only `upsert` and `consume` wait: `destroy` and
 * `revokeByGrantId` go through at once, as the replay path uses them and then fails the
 * request, and that revocation must stand.
 *
 * On the sign-in's requests (`signInWritesTogether`: the authorization endpoint and its
 * resume, the interaction pages), oidc-provider reads the interaction and the session
 * several times, then saves, destroys and saves again (a session regenerated, an
 * interaction replaced). There `destroy` waits too, every row read is remembered for the
 * rest of the request, and what was written is committed whatever the outcome, before the
 * answer leaves: the same rows end up stored as before, in one transaction, not one each.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { AdapterPayload } from 'oidc-provider';
import { AppError } from '../core/errors.ts';
import { currentContext } from '../core/request-context.ts';

export interface HeldWrite {
  model: string;
  id: string;
  /** Set by destroy (sign-in requests only): the row is deleted first at commit. */
  destroyed?: boolean;
  /** Set by upsert: the payload and its lifetime in seconds (0: none). */
  saved?: { payload: AdapterPayload; expiresIn: number };
  /** Set by consume. */
  consumed?: boolean;
}

/** A spent code or refresh token another request redeemed first: the grant is refused, nothing is written. */
export class AlreadyRedeemed extends Error {
  constructor() {
    super('the code or refresh token was redeemed by another request');
    this.name = 'AlreadyRedeemed';
  }
}

/** Commits held writes: `token` says whether each consume must find its row unspent (adapter.ts). */
export type CommitHeldWrites = (writes: HeldWrite[], token: boolean) => Promise<void>;

export class RequestWrites {
  readonly #held = new Map<string, HeldWrite>();
  /** A token request (held consumes must find their rows unspent); else a sign-in request, whose destroys wait too. */
  readonly token: boolean;
  /** Committed: adapter calls made after (work the request left running) go straight through. */
  closed = false;
  /** The interaction a sign-in request is addressed to (its uid in the path): its first read reads ahead (sign-in-read-ahead.ts). */
  interactionUid: string | undefined;
  readAheadDone = false;
  /**
   * Rows already read in this request: at the token endpoint, those read together with the
   * code or refresh token being redeemed (its grant, its account; see adapter.ts); on a
   * sign-in request, every row the adapter read. oidc-provider looks each up again, and is
   * answered from here instead of by a transaction of its own. `undefined` means "read, absent".
   */
  readonly readAhead = new Map<string, unknown>();

  constructor(token: boolean, interactionUid?: string) {
    this.token = token;
    this.interactionUid = interactionUid;
  }

  #entry(model: string, id: string): HeldWrite {
    const key = `${model}\u0000${id}`;
    let entry = this.#held.get(key);
    if (!entry) this.#held.set(key, (entry = { model, id }));
    return entry;
  }

  upsert(model: string, id: string, payload: AdapterPayload, expiresIn: number): void {
    this.#entry(model, id).saved = { payload, expiresIn };
    this.#forgetUidReads(model);
  }

  consume(model: string, id: string): void {
    this.#entry(model, id).consumed = true;
  }

  /** Deleted at commit, before anything saved again under the same id (sign-in requests). */
  destroy(model: string, id: string): void {
    const entry = this.#entry(model, id);
    entry.destroyed = true;
    delete entry.saved;
    delete entry.consumed;
    this.#forgetUidReads(model);
  }

  /** What this request has written but not yet committed for the row, if anything. */
  pending(model: string, id: string): HeldWrite | undefined {
    return this.#held.get(`${model}\u0000${id}`);
  }

  /** The latest row of `model` saved under `uid` by this request and not destroyed since, if any. */
  pendingByUid(model: string, uid: string): HeldWrite | undefined {
    let found: HeldWrite | undefined;
    for (const write of this.#held.values()) if (write.model === model && write.saved?.payload.uid === uid) found = write;
    return found;
  }

  /** A row destroyed (or its grant revoked) now must not come back at commit. */
  forget(match: (write: HeldWrite) => boolean): void {
    for (const [key, write] of this.#held) if (match(write)) this.#held.delete(key);
    this.readAhead.clear(); // something was deleted: read again rather than answer from before
  }

  /** A write of `model` can change which row a uid names: those lookups are read again. */
  #forgetUidReads(model: string): void {
    const prefix = `${model}/uid\u0000`;
    for (const key of this.readAhead.keys()) if (key.startsWith(prefix)) this.readAhead.delete(key);
  }

  /** In the order they were made. */
  writes(): HeldWrite[] {
    return [...this.#held.values()];
  }
}

const scope = new AsyncLocalStorage<RequestWrites>();

/** The held writes of the request being served, if it holds them and has not committed yet. */
export function heldWrites(): RequestWrites | undefined {
  const writes = scope.getStore();
  return writes && !writes.closed ? writes : undefined;
}

/**
 * Runs a sign-in request's `work` with its oidc-provider writes held and its reads
 * remembered, then commits what it wrote in one transaction, also when `work` failed (what
 * it had written before failing was stored before too); a failed commit then does not hide
 * `work`'s own error.
 */
export async function signInWritesTogether<T>(commit: CommitHeldWrites, work: () => Promise<T>, interactionUid?: string): Promise<T> {
  const writes = new RequestWrites(false, interactionUid);
  const commitHeld = async () => {
    writes.closed = true;
    if (writes.writes().length) await commit(writes.writes(), false);
  };
  const result = await scope.run(writes, work).catch(async (err: unknown) => {
    await commitHeld().catch((commitErr: unknown) => currentContext()?.log?.warn({ err: commitErr }, 'sign-in writes not committed after a failure'));
    throw err;
  });
  await commitHeld();
  return result;
}

/** The part of oidc-provider's Koa context this needs. */
interface ProviderRequest {
  method: string;
  path: string;
  status: number;
  body: unknown;
}

/** oidc-provider middleware: the authorization endpoint and its resume (`/auth`, `/auth/:uid`) as `signInWritesTogether`. */
export function authorizationWritesTogether(commit: CommitHeldWrites) {
  return async (ctx: ProviderRequest, next: () => Promise<void>): Promise<void> => {
    if (ctx.path !== '/auth' && !ctx.path.startsWith('/auth/')) return next();
    await signInWritesTogether(commit, next, ctx.path.slice('/auth/'.length) || undefined);
  };
}

/**
 * oidc-provider middleware: serves POST /token with its writes held, and commits them with
 * `commit` when the answer is a success; an error answer drops them. When the commit meets
 * a lost database, the answer becomes a 503 and nothing of the grant happened.
 */
export function tokenWritesTogether(commit: CommitHeldWrites) {
  return async (ctx: ProviderRequest, next: () => Promise<void>): Promise<void> => {
    if (ctx.method !== 'POST' || ctx.path !== '/token') return next();
    const writes = new RequestWrites(true);
    await scope.run(writes, next);
    writes.closed = true;
    if (ctx.status >= 400 || !writes.writes().length) return;
    try {
      await commit(writes.writes(), true);
    } catch (err) {
      if (err instanceof AlreadyRedeemed) {
        // Two requests raced with one code or refresh token: the first to commit wins.
        ctx.status = 400;
        ctx.body = { error: 'invalid_grant', error_description: 'grant request is invalid' };
        return;
      }
      if (!(err instanceof AppError && err.status === 503)) throw err;
      currentContext()?.log?.warn({ err }, 'token grant not committed: storage unavailable');
      ctx.status = 503;
      ctx.body = { error: 'temporarily_unavailable', error_description: 'the service is temporarily unavailable, try again shortly' };
    }
  };
}
