/**
 * Webhooks with two Atrium processes on one PostgreSQL: each event delivered once although
 * both workers poll the same outbox, and an event committed by an instance killed before it
 * could deliver is delivered by the next instance, under the same webhook-id. Also measures
 * delivery figures (events/s, change-to-delivery latency p50/p99) and prints them.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createDeployment, type AtriumProcess, type Deployment } from './support/atrium-process.ts';
import { startWebhookReceiver, type WebhookReceiver } from './support/webhook-receiver.ts';

const enabled = Boolean(process.env.DATABASE_URL && process.env.REDIS_URL);

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;

describe('webhooks across instances', { skip: enabled ? false : 'needs DATABASE_URL and REDIS_URL' }, () => {
  let d: Deployment;
  let a: AtriumProcess;
  let b: AtriumProcess;
  let rx: WebhookReceiver;
  let token: string;
  const api = async (instance: AtriumProcess, method: string, path: string, body?: unknown) =>
    instance.request(d.host(), `/api/v1${path}`, { method, headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined });
  const ofPath = (path: string) => rx.received.filter((r) => r.path === path);

  before(async () => {
    d = await createDeployment({ WEBHOOK_RETRY_BASE_MS: '200', WEBHOOK_POLL_INTERVAL_MS: '200' });
    [a, b] = await Promise.all([d.start(), d.start()]);
    token = await d.platformToken(a);
    assert.equal((await api(a, 'POST', '/tenants', { slug: 'acme', name: 'Acme' })).status, 201);
    rx = await startWebhookReceiver();
  });
  after(async () => {
    await rx?.close();
    await d?.drop();
  });

  async function subscribe(path: string): Promise<string> {
    const res = await api(a, 'POST', '/tenants/acme/webhooks', { url: rx.url(path), event_types: ['user.created'] });
    assert.equal(res.status, 201, res.text);
    rx.expect(path, res.json.secret);
    return res.json.id;
  }

  it('two instances deliver each event exactly once (and the figures)', async () => {
    await subscribe('/once');
    const count = 200;
    const started = Date.now();
    const ids: string[] = [];
    for (let i = 0; i < count; i += 10) {
      const batch = await Promise.all(Array.from({ length: 10 }, (_, j) => api((i + j) % 2 ? b : a, 'POST', '/tenants/acme/users', { email: `u${i + j}@acme.test` })));
      for (const res of batch) {
        assert.equal(res.status, 201, res.text);
        ids.push(res.json.id);
      }
    }
    await rx.waitFor('every event', () => new Set(ofPath('/once').map((r) => r.id)).size >= count, 30_000);
    const finished = Math.max(...ofPath('/once').map((r) => r.receivedAt));
    await new Promise((r) => setTimeout(r, 1500)); // time for a duplicate to show up, if one were coming
    const got = ofPath('/once');
    assert.equal(got.length, count, 'no event twice');
    assert.deepEqual(got.map((r) => r.payload.data.subject).sort(), [...ids].sort(), 'each user once');
    assert.deepEqual(rx.rejected, []);

    const latencies = got.map((r) => r.receivedAt - Date.parse(r.payload.timestamp)).sort((x, y) => x - y);
    const figures = { events: count, seconds: (finished - started) / 1000, events_per_second: Math.round(count / ((finished - started) / 1000)), latency_ms: { p50: percentile(latencies, 50), p99: percentile(latencies, 99), max: latencies.at(-1) } };
    console.log(`webhook delivery figures (two instances, one PostgreSQL, loopback receiver): ${JSON.stringify(figures)}`);
  });

  it('an event committed by an instance killed before delivering is delivered by the next one, same webhook-id', async () => {
    const sub = await subscribe('/crash');
    await b.stop('SIGTERM'); // only A runs: the kill below leaves nobody but the next instance
    await rx.down();
    const created = await api(a, 'POST', '/tenants/acme/users', { email: 'crash@acme.test' });
    assert.equal(created.status, 201);
    // A's attempt failed (the receiver is down) and was recorded: the event is committed, not delivered.
    let pending: { id: string; last_error: string | null } | undefined;
    for (let i = 0; i < 200 && !pending; i++) {
      pending = (await api(a, 'GET', `/tenants/acme/webhooks/${sub}?status=pending`)).json.deliveries.find((x: { last_error: string | null }) => x.last_error);
      if (!pending) await new Promise((r) => setTimeout(r, 25));
    }
    assert.ok(pending, 'a failed attempt is recorded');
    assert.equal(await a.stop('SIGKILL'), null);
    await rx.up();
    const c = await d.start();
    await rx.waitFor('the event after the crash', () => ofPath('/crash').some((r) => r.payload.data.subject === created.json.id), 15_000);
    assert.deepEqual([...new Set(ofPath('/crash').map((r) => r.id))], [pending.id]);
    const delivered = (await api(c, 'GET', `/tenants/acme/webhooks/${sub}?status=delivered`)).json.deliveries;
    assert.deepEqual(delivered.map((x: { id: string }) => x.id), [pending.id]);
  });
});
