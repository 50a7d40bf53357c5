/**
 * SIGTERM under keep-alive load: 16 persistent connections keep sending (and, told
 * `Connection: close`, open new ones, as a client pool does) until the process has gone.
 * Every request the instance accepted gets its full response: no connection is reset.
 * Refused connections after the listener closed are expected (a balancer moves on).
 * Three rounds in a row, a fresh instance each.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Pool } from 'undici';
import { createDeployment, type Deployment } from './support/atrium-process.ts';

const enabled = Boolean(process.env.DATABASE_URL && process.env.REDIS_URL);
const CONNECTIONS = 16;

describe('SIGTERM drains keep-alive connections without resetting one', { skip: enabled ? false : 'needs DATABASE_URL and REDIS_URL' }, () => {
  let d: Deployment;
  let basic: string;

  before(async () => {
    d = await createDeployment({ RATE_LIMITS_ENABLED: 'false' });
    const first = await d.start();
    const token = await d.platformToken(first);
    const api = (method: string, path: string, body: unknown) => first.request(d.host(), `/api/v1${path}`, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    assert.equal((await api('POST', '/tenants', { slug: 'acme', name: 'Acme' })).status, 201);
    const client = await api('POST', '/tenants/acme/clients', { grant_types: ['client_credentials'], response_types: [], redirect_uris: [] });
    basic = `Basic ${Buffer.from(`${client.json.client_id}:${client.json.client_secret}`).toString('base64')}`;
    await first.stop('SIGTERM');
  });
  after(() => d?.drop());

  for (const round of [1, 2, 3]) {
    it(`round ${round}: 0 resets, every accepted request answered in full`, async () => {
      const instance = await d.start();
      const pool = new Pool(`http://127.0.0.1:${instance.port}`, { connections: CONNECTIONS, pipelining: 1, keepAliveTimeout: 60_000 });
      const outcomes = new Map<string, number>();
      const count = (o: string) => outcomes.set(o, (outcomes.get(o) ?? 0) + 1);
      let exited = false;
      let sigtermSent = false;
      let answeredAfterSigterm = 0;
      let toldToClose = 0;
      const worker = async (i: number) => {
        while (!exited) {
          try {
            const token = i % 2 === 0;
            const res = await pool.request({
              path: token ? '/token' : '/.well-known/openid-configuration',
              method: token ? 'POST' : 'GET',
              headers: token ? { host: d.host('acme'), authorization: basic, 'content-type': 'application/x-www-form-urlencoded' } : { host: d.host('acme') },
              body: token ? 'grant_type=client_credentials' : undefined,
            });
            const body = await res.body.text();
            // A full answer: the status and a body that parses.
            JSON.parse(body);
            count(String(res.statusCode));
            if (sigtermSent) answeredAfterSigterm++;
            if (res.headers.connection === 'close') toldToClose++;
          } catch (err) {
            const code = (err as { code?: string }).code ?? (err as Error).name;
            count(code === 'ECONNREFUSED' ? 'refused' : `error:${code}:${(err as Error).message}`);
            if (code === 'ECONNREFUSED') await new Promise((r) => setTimeout(r, 5));
          }
        }
      };
      const workers = Array.from({ length: CONNECTIONS * 2 }, (_, i) => worker(i));
      await new Promise((r) => setTimeout(r, 700));
      sigtermSent = true;
      const code = await instance.stop('SIGTERM');
      exited = true;
      await Promise.all(workers);
      await pool.destroy();
      const summary = Object.fromEntries(outcomes);
      console.log(`[drain round ${round}]`, JSON.stringify({ ...summary, answered_after_sigterm: answeredAfterSigterm, connection_close: toldToClose }));
      assert.equal(code, 0);
      const failures = [...outcomes.keys()].filter((o) => o !== '200' && o !== 'refused');
      assert.deepEqual(failures, [], `only full 200 answers or refused connections: ${JSON.stringify(summary)}`);
      assert.ok(answeredAfterSigterm > 0, 'requests were answered during the drain (else this proves nothing)');
      assert.ok(toldToClose > 0, 'responses during the drain carry Connection: close');
    });
  }
});
