/**
 * The doors without a router: start-up provisioning and the operator CLI audit their
 * changes like the API and the console do, as `system:bootstrap` and `system:cli`.
 * The CLI is a second process on the same database, so this needs PostgreSQL.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { BOOTSTRAP_CLIENT_ID, createTestDatabase, startTestAtrium, testServerUrl, type TestAtrium } from './support/atrium.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const serverUrl = testServerUrl();
const ADMIN = { email: 'boot@platform.test', password: 'bootstrap-admin-correct-horse' };
const ENCRYPTION_KEY = randomBytes(32).toString('base64');

let t: TestAtrium;
let database: { url: string; drop: () => Promise<void> };

async function events(slug: string, action: string): Promise<{ actor: string; target: string; correlation_id: string | null; details: Record<string, unknown> }[]> {
  const res = await t.api('GET', `/tenants/${slug}/audit?action=${encodeURIComponent(action)}&limit=100`);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.events;
}

describe('audit of the doors without a router', { skip: serverUrl ? false : 'the CLI runs as a second process on the same database: needs DATABASE_URL' }, () => {
  before(async () => {
    database = await createTestDatabase(serverUrl!);
    t = await startTestAtrium({ ENCRYPTION_KEY, ATRIUM_BOOTSTRAP_ADMIN_EMAIL: ADMIN.email, ATRIUM_BOOTSTRAP_ADMIN_PASSWORD: ADMIN.password }, { databaseUrl: database.url });
  });
  after(async () => {
    await t?.stop();
    await database?.drop();
  });

  it('bootstrap records the platform admin and API client it creates, as system:bootstrap', async () => {
    const admin = (await events('_platforms', 'user.created')).find((e) => e.details.email === ADMIN.email);
    assert.equal(admin?.actor, 'system:bootstrap');
    assert.equal(admin?.details.actor_type, 'system');
    assert.ok(admin?.correlation_id, 'one correlation id for the start-up provisioning');
    const client = (await events('_platforms', 'client.created')).find((e) => e.target === BOOTSTRAP_CLIENT_ID);
    assert.equal(client?.actor, 'system:bootstrap');
  });

  it('the CLI key rotation is audited in the tenant as system:cli', async () => {
    assert.equal((await t.api('POST', '/tenants', { slug: 'opco', name: 'Opco' })).status, 201);
    const { stdout } = await promisify(execFile)(process.execPath, ['src/cli.ts', 'rotate-keys', 'opco'], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, DATABASE_URL: database.url, ENCRYPTION_KEY, LOG_LEVEL: 'silent' },
    });
    assert.match(stdout, /ES256 /);
    const rotated = await events('opco', 'keys.rotated');
    assert.equal(rotated.length, 1);
    assert.equal(rotated[0]!.actor, 'system:cli');
    assert.equal(rotated[0]!.details.actor_type, 'system');
  });
});
