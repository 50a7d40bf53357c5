import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Database } from '../storage/database.ts';
import { runAsTenant } from '../core/request-context.ts';
import { createAdapterClass, TenantStorageAdapter } from './adapter.ts';

// Nothing here reaches the database: a tenant's adapter refuses before any query.
const db = {} as Database;

describe('createAdapterClass', () => {
  it("makes every tenant's adapters instances of one class, each bound to its own tenant", async () => {
    const [a, b] = [randomUUID(), randomUUID()];
    const AdapterA = createAdapterClass(a, db, async () => undefined);
    const AdapterB = createAdapterClass(b, db, async () => undefined);
    const [sessionA, sessionB] = [new AdapterA('Session'), new AdapterB('Session')];
    assert.ok(sessionA instanceof TenantStorageAdapter);
    assert.equal(Object.getPrototypeOf(sessionA), Object.getPrototypeOf(sessionB));
    assert.equal(sessionA.model, 'Session');
    // In tenant B's request, or in none, A's adapter reads nothing.
    await assert.rejects(runAsTenant(b, () => sessionA.find('x')), /outside its tenant context/);
    await assert.rejects(sessionA.find('x'), /outside its tenant context/);
  });
});
