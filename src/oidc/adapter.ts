/**
 * oidc-provider's storage adapter, one class per tenant runtime. Every model lives in
 * `oidc_payloads` under row-level security; the tenant comes from the request context,
 * and the adapter refuses to run for any tenant but its own. Clients come from
 * `oidc_clients` through a cache keyed by tenant version (see tenant-materials.ts).
 */
import type { Adapter, AdapterPayload } from 'oidc-provider';
import { errors } from 'oidc-provider';
import { AppError } from '../core/errors.ts';
import type { Database } from '../storage/database.ts';
import { currentTenantId } from '../core/request-context.ts';
import type { ClientMetadata } from './client-store.ts';
import { heldTokenWrites, type HeldWrite } from './token-request-writes.ts';

interface PayloadRow {
  payload: AdapterPayload;
  consumed_at: Date | string | null;
}

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

export function createAdapterClass(tenantId: string, db: Database, findClient: (clientId: string) => Promise<ClientMetadata | undefined>): AdapterClass {
  function assertTenant(): void {
    // A runtime serving another tenant's request would be a routing bug; fail loudly.
    if (currentTenantId() !== tenantId) throw new Error('oidc adapter used outside its tenant context');
  }

  return class TenantAdapter implements Adapter {
    readonly model: string;
    constructor(model: string) {
      this.model = model;
    }

    async upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void> {
      if (this.model === 'Client') throw new Error('clients are managed through the management API');
      assertTenant();
      const held = heldTokenWrites();
      if (held) return held.upsert(this.model, id, payload, expiresIn);
      await unlessStorageDown(() => db.withTenant((q) => q.query(...upsertStatement(tenantId, { model: this.model, id, saved: { payload, expiresIn } }))));
    }

    async find(id: string): Promise<AdapterPayload | undefined> {
      assertTenant();
      if (this.model === 'Client') return unlessStorageDown(() => findClient(id));
      // What this token request wrote but has not committed yet reads as written.
      const held = heldTokenWrites()?.pending(this.model, id);
      const found = held?.saved?.payload ?? (await this.#findBy('id', id));
      return found && held?.consumed ? { ...found, consumed: Math.floor(Date.now() / 1000) } : found;
    }

    findByUid(uid: string): Promise<AdapterPayload | undefined> {
      assertTenant();
      return this.#findBy('uid', uid);
    }

    findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
      assertTenant();
      return this.#findBy('user_code', userCode);
    }

    async consume(id: string): Promise<void> {
      assertTenant();
      const held = heldTokenWrites();
      if (held) return held.consume(this.model, id);
      await unlessStorageDown(() => db.withTenant((q) => q.query(...consumeStatement({ model: this.model, id }))));
    }

    async destroy(id: string): Promise<void> {
      assertTenant();
      heldTokenWrites()?.forget((w) => w.model === this.model && w.id === id);
      await unlessStorageDown(() => db.withTenant((q) => q.query('DELETE FROM oidc_payloads WHERE model = $1 AND id = $2', [this.model, id])));
    }

    async revokeByGrantId(grantId: string): Promise<void> {
      assertTenant();
      heldTokenWrites()?.forget((w) => w.saved?.payload.grantId === grantId);
      await unlessStorageDown(() => db.withTenant((q) => q.query('DELETE FROM oidc_payloads WHERE grant_id = $1', [grantId])));
    }

    async #findBy(column: 'id' | 'uid' | 'user_code', value: string): Promise<AdapterPayload | undefined> {
      const res = await unlessStorageDown(() => db.withTenant((q) =>
        q.query<PayloadRow>(
          `SELECT payload, consumed_at FROM oidc_payloads
           WHERE model = $1 AND ${column} = $2 AND (expires_at IS NULL OR expires_at > now())`,
          [this.model, value],
        ),
      ));
      const row = res.rows[0];
      if (!row) return undefined;
      return row.consumed_at ? { ...row.payload, consumed: Math.floor(new Date(row.consumed_at).getTime() / 1000) } : row.payload;
    }
  };
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

function consumeStatement(write: Pick<HeldWrite, 'model' | 'id'>): [string, unknown[]] {
  return ['UPDATE oidc_payloads SET consumed_at = now() WHERE model = $1 AND id = $2', [write.model, write.id]];
}

/** Commits what a token request held back (token-request-writes.ts), in one transaction, in order. */
export function commitHeldWrites(db: Database, tenantId: string): (writes: HeldWrite[]) => Promise<void> {
  return (writes) =>
    db.withTenant(async (q) => {
      for (const write of writes) {
        if (write.saved) await q.query(...upsertStatement(tenantId, { ...write, saved: write.saved }));
        if (write.consumed) await q.query(...consumeStatement(write));
      }
    });
}
