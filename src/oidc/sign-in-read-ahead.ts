/**
 * The rows a sign-in request reads, in one batch (one transaction, one round trip to a
 * server) instead of one transaction each. The interaction pages and the authorization
 * endpoint's resume are addressed by the interaction's uid (its id); oidc-provider then reads
 * the interaction, the session it names (by uid), the browser's session (by the id in its
 * cookie), the account signing in and the grant being consented to, one after the other.
 * On a sign-in request's first read the adapter asks for all of these at once (each derived
 * from the interaction row in SQL, under RLS), and answers what oidc-provider asks next from
 * the request's read-ahead (request-writes.ts). A row read ahead is read in the same
 * request it is used in: nothing is kept across requests.
 */
import type { AdapterPayload } from 'oidc-provider';
import type { Database, Statement } from '../storage/database.ts';
import { heldWrites, type RequestWrites } from './request-writes.ts';

interface PayloadRow {
  payload: AdapterPayload;
  consumed_at: Date | string | null;
}

/** The statement reading an account, given SQL that yields its id, and how to read its rows (adapter.ts). */
export type AccountReader = (idSql: string) => { sql: string; read: (rows: readonly unknown[]) => unknown };

export const readAheadKey = (model: string, id: string) => `${model}\u0000${id}`;
export const accountReadAheadKey = (accountId: string) => readAheadKey('account', accountId);

export function withConsumed(payload: AdapterPayload, consumedAt: Date | string | null): AdapterPayload {
  return consumedAt ? { ...payload, consumed: Math.floor(new Date(consumedAt).getTime() / 1000) } : payload;
}

const LIVE = '(expires_at IS NULL OR expires_at > now())';
/** The interaction's payload ($1: its id). */
const INTERACTION = `(SELECT i.payload FROM oidc_payloads i WHERE i.model = 'Interaction' AND i.id = $1 AND (i.expires_at IS NULL OR i.expires_at > now()))`;
const ROW = `SELECT id, payload, consumed_at FROM oidc_payloads`;
const UUID_PATTERN = `'^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'`;
/** The account the interaction signs in (its login result), else the one its session has; NULL unless a uuid. */
const ACCOUNT_ID = `SELECT CASE WHEN x.id ~* ${UUID_PATTERN} THEN x.id::uuid END
  FROM (SELECT COALESCE(${INTERACTION}->'result'->'login'->>'accountId', ${INTERACTION}->'session'->>'accountId') AS id) x`;

/** Reads ahead for sign-in requests of one tenant's Provider (adapter.ts). */
export class SignInReadAhead {
  readonly #db: Database;
  readonly #readAccount: AccountReader | undefined;
  constructor(db: Database, readAccount?: AccountReader) {
    this.#db = db;
    this.#readAccount = readAccount;
  }

  /** A row of a sign-in request by id: read ahead on the request's first read, then as read (or `read()`, remembered). */
  async byId(request: RequestWrites, model: string, id: string, read: () => Promise<AdapterPayload | undefined>): Promise<AdapterPayload | undefined> {
    const key = readAheadKey(model, id);
    if (!request.readAhead.has(key) && request.interactionUid && !request.readAheadDone) {
      request.readAheadDone = true;
      await this.read(request, request.interactionUid, { model, id });
    }
    if (request.readAhead.has(key)) return request.readAhead.get(key) as AdapterPayload | undefined;
    const found = await read();
    request.readAhead.set(key, found);
    return found;
  }

  /** A row of a sign-in request by uid: as this request saved it, else as read (or `read()`, remembered), unless it destroyed it. */
  async byUid(request: RequestWrites, model: string, uid: string, read: () => Promise<AdapterPayload | undefined>): Promise<AdapterPayload | undefined> {
    const held = request.pendingByUid(model, uid);
    if (held?.saved) return held.saved.payload;
    const key = readAheadKey(`${model}/uid`, uid);
    if (request.readAhead.has(key)) return request.readAhead.get(key) as AdapterPayload | undefined;
    const found = await read();
    // A row this request destroyed is gone, though still stored until the commit.
    const live = found && typeof found.jti === 'string' && request.pending(model, found.jti)?.destroyed ? undefined : found;
    request.readAhead.set(key, live);
    return live;
  }

  /**
   * Reads the interaction `uid`, its session, its account and its grant, and the row first
   * asked for (`model`, `id`) when it is another, into `request.readAhead`, and returns it.
   */
  async read(request: RequestWrites, uid: string, asked: { model: string; id: string }): Promise<ReadonlyMap<string, unknown>> {
    const account = this.#readAccount?.(ACCOUNT_ID);
    const other = asked.model !== 'Interaction' || asked.id !== uid;
    const statements: Statement[] = [
      [`${ROW} WHERE model = 'Interaction' AND id = $1 AND ${LIVE}`, [uid]],
      [`${ROW} WHERE model = 'Session' AND uid = ${INTERACTION}->'session'->>'uid' AND ${LIVE}`, [uid]],
      [`${ROW} WHERE model = 'Grant' AND id = COALESCE(${INTERACTION}->'result'->'consent'->>'grantId', ${INTERACTION}->>'grantId') AND ${LIVE}`, [uid]],
      ...(account ? [[account.sql, [uid]] as const] : []),
      ...(other ? [[`${ROW} WHERE model = $1 AND id = $2 AND ${LIVE}`, [asked.model, asked.id]] as const] : []),
    ];
    const results = await this.#db.withTenantBatch(statements);
    const [interaction, session, grant] = results.map((r) => r.rows[0] as (PayloadRow & { id: string }) | undefined);
    const read = (row: PayloadRow | undefined) => row && withConsumed(row.payload, row.consumed_at);
    const { readAhead } = request;
    readAhead.set(readAheadKey('Interaction', uid), read(interaction));
    const payload = interaction?.payload as { session?: { uid?: unknown; accountId?: unknown }; result?: { login?: { accountId?: unknown } } } | undefined;
    const sessionUid = payload?.session?.uid;
    if (typeof sessionUid === 'string') readAhead.set(readAheadKey('Session/uid', sessionUid), read(session));
    if (grant) readAhead.set(readAheadKey('Grant', grant.id), read(grant));
    const accountId = payload?.result?.login?.accountId ?? payload?.session?.accountId;
    if (account && typeof accountId === 'string') readAhead.set(accountReadAheadKey(accountId), account.read(results[3]!.rows));
    if (other) readAhead.set(readAheadKey(asked.model, asked.id), read(results.at(-1)!.rows[0] as PayloadRow | undefined));
    return readAhead;
  }
}

/** The account `accountId` as this request read it ahead, else `read()` (the interaction pages, the token endpoint's findAccount). */
export async function readAheadAccount<T>(accountId: string, read: () => Promise<T>): Promise<T> {
  const readAhead = heldWrites()?.readAhead;
  const key = accountReadAheadKey(accountId);
  return readAhead?.has(key) ? (readAhead.get(key) as T) : read();
}
