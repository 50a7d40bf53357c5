/**
 * oidc-provider's storage adapter, bound to one tenant runtime. Every model lives in
 * `oidc_payloads` under row-level security; the tenant comes from the request context,
 * and the adapter refuses to run for any tenant but its own. Clients come from
 * `oidc_clients` through a cache keyed by tenant version (see tenant-materials.ts).
 */
import type { Adapter, AdapterPayload } from 'oidc-provider';
import { errors } from 'oidc-provider';
import { AppError } from '../core/errors.ts';
import type { Database, Statement } from '../storage/database.ts';
import { currentTenantId } from '../core/request-context.ts';
import type { ClientMetadata } from './client-store.ts';
import { accountReadAheadKey, readAheadKey, SignInReadAhead, withConsumed, type AccountReader } from './sign-in-read-ahead.ts';
import { AlreadyRedeemed, heldWrites, type CommitHeldWrites, type HeldWrite, type RequestWrites } from './request-writes.ts';

interface PayloadRow {
  payload: AdapterPayload;
  consumed_at: Date | string | null;
}

interface RedeemedRow extends PayloadRow {
  grant_payload: AdapterPayload | null;
  grant_consumed_at: Date | string | null;
}

/** What a token request redeems; each names its grant and account, which the grant reads next. */
const REDEEMED = new Set(['AuthorizationCode', 'RefreshToken']);

/** The token and its grant in one statement (both under RLS; the join is on the primary key). */
const REDEEMED_WITH_GRANT = `
  SELECT t.payload, t.consumed_at, g.payload AS grant_payload, g.consumed_at AS grant_consumed_at
  FROM oidc_payloads t
  LEFT JOIN oidc_payloads g ON g.tenant_id = t.tenant_id AND g.model = 'Grant' AND g.id = t.payload->>'grantId'
                           AND (g.expires_at IS NULL OR g.expires_at > now())
  WHERE t.model = $1 AND t.id = $2 AND (t.expires_at IS NULL OR t.expires_at > now())`;

/**
 * The session a token bound to its session (`expiresWithSession`) names: oidc-provider looks
 * it up by uid right after reading the token (checkSessionBinding). No row otherwise.
 */
const REDEEMED_SESSION = `
  SELECT s.payload, s.consumed_at FROM oidc_payloads s
  WHERE s.model = 'Session' AND (s.expires_at IS NULL OR s.expires_at > now())
    AND s.uid = (SELECT b.payload->>'sessionUid' FROM oidc_payloads b
                 WHERE b.model = $1 AND b.id = $2 AND b.payload->'expiresWithSession' = 'true'::jsonb AND (b.expires_at IS NULL OR b.expires_at > now()))`;

/** The account id of the same token, for the account's statement in the same batch (NULL unless a uuid: the cast must not fail). */
const REDEEMED_ACCOUNT_ID = `
  SELECT CASE WHEN a.payload->>'accountId' ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' THEN (a.payload->>'accountId')::uuid END
  FROM oidc_payloads a WHERE a.model = $1 AND a.id = $2 AND (a.expires_at IS NULL OR a.expires_at > now())`;

export type AdapterClass = new (model: string) => Adapter;

/** oidc-provider renders its own errors; a lost database must read 503, not its generic 500. */
class StorageUnavailable extends errors.OIDCProviderError {
  constructor(cause: unknown) {
    super(503, 'temporarily_unavailable', { cause });
    this.error_description = 'the service is temporarily unavailable, try again shortly';
    this.expose = true;
  }
}

/** Rethrows a storage outage as an error oidc-provider answers with 503. */
export async function unlessStorageDown<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof AppError && err.status === 503) throw new StorageUnavailable(err);
    throw err;
  }
}

type ClientLookup = (clientId: string) => Promise<ClientMetadata | undefined>;

/** What one tenant's adapters share: its id, the database, and its client and account lookups. */
interface TenantStorage {
  readonly tenantId: string;
  readonly db: Database;
  readonly findClient: ClientLookup;
  readonly readAccount: AccountReader | undefined;
  readonly signInReads: SignInReadAhead;
}

/**
 * oidc-provider's adapter class for one tenant. It calls `new Adapter(model)`, and a
 * constructor that returns an object makes `new` yield that object: every tenant's adapters
 * are instances of the one `TenantStorageAdapter` class, so the code they run sees one
 * object shape, not one per tenant (why that matters: shared-koa-prototypes.ts).
 */
export function createAdapterClass(tenantId: string, db: Database, findClient: ClientLookup, readAccount?: AccountReader): AdapterClass {
  const storage: TenantStorage = { tenantId, db, findClient, readAccount, signInReads: new SignInReadAhead(db, readAccount) };
  return class TenantAdapter {
    constructor(model: string) {
      return new TenantStorageAdapter(model, storage);
    }
  } as unknown as AdapterClass;
}

export class TenantStorageAdapter implements Adapter {
  readonly model: string;
  readonly #storage: TenantStorage;
  constructor(model: string, storage: TenantStorage) {
    this.model = model;
    this.#storage = storage;
  }

  /** A runtime serving another tenant's request would be a routing bug; fail loudly. */
  #assertTenant(): void {
    if (currentTenantId() !== this.#storage.tenantId) throw new Error('oidc adapter used outside its tenant context');
  }

  async upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void> {
    if (this.model === 'Client') throw new Error('clients are managed through the management API');
    this.#assertTenant();
    const held = heldWrites();
    if (held) return held.upsert(this.model, id, payload, expiresIn);
    const { db, tenantId } = this.#storage;
    await unlessStorageDown(() => db.tenantQuery(...upsertStatement(tenantId, { model: this.model, id, saved: { payload, expiresIn } })));
  }

  async find(id: string): Promise<AdapterPayload | undefined> {
    this.#assertTenant();
    if (this.model === 'Client') return unlessStorageDown(() => this.#storage.findClient(id));
    const request = heldWrites();
    // What this request wrote but has not committed yet reads as written.
    const held = request?.pending(this.model, id);
    if (held?.destroyed && !held.saved) return undefined;
    const found = held?.saved?.payload ?? (await this.#findUnheld(id, request));
    return found && held?.consumed ? { ...found, consumed: Math.floor(Date.now() / 1000) } : found;
  }

  /** On a sign-in request as it knows the row; at the token endpoint from its read-ahead, else from the database. */
  async #findUnheld(id: string, request: RequestWrites | undefined): Promise<AdapterPayload | undefined> {
    const { db, signInReads, readAccount } = this.#storage;
    if (request && !request.token) return unlessStorageDown(() => signInReads.byId(request, this.model, id, () => findBy(db, this.model, 'id', id)));
    const key = readAheadKey(this.model, id);
    if (request?.readAhead.has(key)) return request.readAhead.get(key) as AdapterPayload | undefined;
    if (request && REDEEMED.has(this.model)) return unlessStorageDown(() => readRedeemed(db, this.model, id, request, readAccount));
    return findBy(db, this.model, 'id', id);
  }

  async findByUid(uid: string): Promise<AdapterPayload | undefined> {
    this.#assertTenant();
    const { db, signInReads } = this.#storage;
    const request = heldWrites();
    if (request && !request.token) return unlessStorageDown(() => signInReads.byUid(request, this.model, uid, () => findBy(db, this.model, 'uid', uid)));
    const key = readAheadKey(`${this.model}/uid`, uid); // a session bound to the token being redeemed (readRedeemed)
    return request?.readAhead.has(key) ? (request.readAhead.get(key) as AdapterPayload | undefined) : findBy(db, this.model, 'uid', uid);
  }

  findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
    return this.#assertTenant(), findBy(this.#storage.db, this.model, 'user_code', userCode);
  }

  async consume(id: string): Promise<void> {
    this.#assertTenant();
    const held = heldWrites();
    if (held) return held.consume(this.model, id);
    await unlessStorageDown(() => this.#storage.db.tenantQuery(...consumeStatement({ model: this.model, id })));
  }

  async destroy(id: string): Promise<void> {
    this.#assertTenant();
    const held = heldWrites();
    if (held && !held.token) return held.destroy(this.model, id);
    held?.forget((w) => w.model === this.model && w.id === id);
    await unlessStorageDown(() => this.#storage.db.tenantQuery('DELETE FROM oidc_payloads WHERE model = $1 AND id = $2', [this.model, id]));
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    this.#assertTenant();
    heldWrites()?.forget((w) => w.saved?.payload.grantId === grantId);
    await unlessStorageDown(() => this.#storage.db.tenantQuery('DELETE FROM oidc_payloads WHERE grant_id = $1', [grantId]));
  }
}

/** A live row of `model` by one of its lookup columns. */
async function findBy(db: Database, model: string, column: 'id' | 'uid' | 'user_code', value: string): Promise<AdapterPayload | undefined> {
  const res = await unlessStorageDown(() =>
    db.tenantQuery<PayloadRow>(
      `SELECT payload, consumed_at FROM oidc_payloads
       WHERE model = $1 AND ${column} = $2 AND (expires_at IS NULL OR expires_at > now())`,
      [model, value],
    ),
  );
  const row = res.rows[0];
  return row && withConsumed(row.payload, row.consumed_at);
}

/**
 * A code or refresh token being redeemed, read with its grant, the session it is bound to
 * (if it is) and its account in one batch (one round trip to a server): the grant then
 * needs one more (the writes), not five.
 */
async function readRedeemed(db: Database, model: string, id: string, request: RequestWrites, readAccount: AccountReader | undefined): Promise<AdapterPayload | undefined> {
  const account = readAccount?.(REDEEMED_ACCOUNT_ID);
  const statements: Statement[] = [[REDEEMED_WITH_GRANT, [model, id]], [REDEEMED_SESSION, [model, id]], ...(account ? [[account.sql, [model, id]] as const] : [])];
  const [token, session, accountRows] = await db.withTenantBatch(statements);
  const row = token!.rows[0] as RedeemedRow | undefined;
  if (!row) return undefined;
  const { grantId, accountId, sessionUid } = row.payload;
  if (typeof grantId === 'string') request.readAhead.set(readAheadKey('Grant', grantId), row.grant_payload ? withConsumed(row.grant_payload, row.grant_consumed_at) : undefined);
  if (row.payload.expiresWithSession === true && typeof sessionUid === 'string') {
    const found = session!.rows[0] as PayloadRow | undefined;
    request.readAhead.set(readAheadKey('Session/uid', sessionUid), found && withConsumed(found.payload, found.consumed_at));
  }
  if (account && accountRows && typeof accountId === 'string') request.readAhead.set(accountReadAheadKey(accountId), account.read(accountRows.rows));
  return withConsumed(row.payload, row.consumed_at);
}

function upsertStatement(tenantId: string, write: HeldWrite & { saved: NonNullable<HeldWrite['saved']> }): [string, unknown[]] {
  const { payload, expiresIn } = write.saved;
  const expiresAt = expiresIn ? new Date(Date.now() + expiresIn * 1000) : null;
  return [
    `INSERT INTO oidc_payloads (tenant_id, model, id, payload, grant_id, uid, user_code, expires_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
     ON CONFLICT (tenant_id, model, id) DO UPDATE
       SET payload = EXCLUDED.payload, grant_id = EXCLUDED.grant_id, uid = EXCLUDED.uid,
           user_code = EXCLUDED.user_code, expires_at = EXCLUDED.expires_at`,
    [tenantId, write.model, write.id, payload, payload.grantId ?? null, payload.uid ?? null, payload.userCode ?? null, expiresAt],
  ];
}

/** Only an unspent row: of two requests redeeming one token, the second updates nothing. */
function consumeStatement(write: Pick<HeldWrite, 'model' | 'id'>): [string, unknown[]] {
  return ['UPDATE oidc_payloads SET consumed_at = now() WHERE model = $1 AND id = $2 AND consumed_at IS NULL', [write.model, write.id]];
}

/**
 * consumeStatement that fails when it updates nothing, so that a batch sent whole (COMMIT
 * included) rolls back without waiting to read the count: 1/0 raises division_by_zero
 * (SQLSTATE 22012), the only statement of the batch that divides.
 */
function consumeOrFailStatement(write: Pick<HeldWrite, 'model' | 'id'>): [string, unknown[]] {
  const [update, params] = consumeStatement(write);
  return [`WITH spent AS (${update} RETURNING 1) SELECT 1 / (SELECT count(*)::int FROM spent) AS spent`, params];
}
const NOTHING_TO_CONSUME = '22012';

/**
 * Commits what a request held back (request-writes.ts): one transaction, in order,
 * sent as one batch (one round trip to a server). At the token endpoint (`token`) a consume
 * that finds its row spent rolls all back; on a sign-in request it is the plain update.
 */
export function commitHeldWrites(db: Database, tenantId: string): CommitHeldWrites {
  return async (writes, token) => {
    const statements: Statement[] = [];
    for (const write of writes) {
      if (write.destroyed) statements.push(['DELETE FROM oidc_payloads WHERE model = $1 AND id = $2', [write.model, write.id]]);
      if (write.saved) statements.push(upsertStatement(tenantId, { ...write, saved: write.saved }));
      if (write.consumed) statements.push(token ? consumeOrFailStatement(write) : consumeStatement(write));
    }
    try {
      await db.withTenantBatch(statements);
    } catch (err) {
      // Rolled the whole grant back: another request spent the token since this one read it.
      if ((err as { code?: string }).code === NOTHING_TO_CONSUME) throw new AlreadyRedeemed();
      throw err;
    }
  };
}
