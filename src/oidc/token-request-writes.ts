/**
 * The writes of one token request, held back and committed in one transaction once the
 * grant has succeeded.
 *
 * oidc-provider marks a code or refresh token used, then saves what it issues, each through
 * its own adapter call. As separate transactions, a storage failure between them left the old
 * one spent and nothing issued: the client's retry then read as a replay (`invalid_grant`,
 * and the whole grant revoked) because of an outage of ours. Held together, a 503 means
 * nothing happened, and the same request may be sent again.
 *
 * Only `upsert` and `consume` wait. `destroy` and `revokeByGrantId` go through at once: the
 * replay path uses them and then fails the request, and that revocation must stand.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { AdapterPayload } from 'oidc-provider';
import { AppError } from '../core/errors.ts';
import { currentContext } from '../core/request-context.ts';

export interface HeldWrite {
  model: string;
  id: string;
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

export class TokenRequestWrites {
  readonly #held = new Map<string, HeldWrite>();
  /**
   * Rows read together with the code or refresh token being redeemed (its grant, its
   * account; see adapter.ts): oidc-provider looks each up separately right after, and is
   * answered from here instead of by a transaction of its own. `undefined` means "read, absent".
   */
  readonly readAhead = new Map<string, unknown>();

  #entry(model: string, id: string): HeldWrite {
    const key = `${model}\u0000${id}`;
    let entry = this.#held.get(key);
    if (!entry) this.#held.set(key, (entry = { model, id }));
    return entry;
  }

  upsert(model: string, id: string, payload: AdapterPayload, expiresIn: number): void {
    this.#entry(model, id).saved = { payload, expiresIn };
  }

  consume(model: string, id: string): void {
    this.#entry(model, id).consumed = true;
  }

  /** What this request has written but not yet committed for the row, if anything. */
  pending(model: string, id: string): HeldWrite | undefined {
    return this.#held.get(`${model}\u0000${id}`);
  }

  /** A row destroyed (or its grant revoked) now must not come back at commit. */
  forget(match: (write: HeldWrite) => boolean): void {
    for (const [key, write] of this.#held) if (match(write)) this.#held.delete(key);
    this.readAhead.clear(); // something was deleted: read again rather than answer from before
  }

  /** In the order they were made. */
  writes(): HeldWrite[] {
    return [...this.#held.values()];
  }
}

const scope = new AsyncLocalStorage<TokenRequestWrites>();

/** The held writes of the token request being served, if this is one. */
export function heldTokenWrites(): TokenRequestWrites | undefined {
  return scope.getStore();
}

/** The part of oidc-provider's Koa context this needs. */
interface TokenRequest {
  method: string;
  path: string;
  status: number;
  body: unknown;
}

/**
 * oidc-provider middleware: serves POST /token with its writes held, and commits them with
 * `commit` when the answer is a success; an error answer drops them. When the commit meets
 * a lost database, the answer becomes a 503 and nothing of the grant happened.
 */
export function tokenWritesTogether(commit: (writes: HeldWrite[]) => Promise<void>) {
  return async (ctx: TokenRequest, next: () => Promise<void>): Promise<void> => {
    if (ctx.method !== 'POST' || ctx.path !== '/token') return next();
    const writes = new TokenRequestWrites();
    await scope.run(writes, next);
    if (ctx.status >= 400 || !writes.writes().length) return;
    try {
      await commit(writes.writes());
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
