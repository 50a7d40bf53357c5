/**
 * Two Atrium processes on one PostgreSQL and one Redis: a limit holds for the sum of the
 * requests spread over both instances, not for each instance alone.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createDeployment, type AtriumProcess, type Deployment } from './support/atrium-process.ts';
import { REDIRECT_URI } from './support/fixtures.ts';
import { hiddenInput } from './support/http-client.ts';
import { basic } from './support/rate-limit-helpers.ts';

const enabled = Boolean(process.env.DATABASE_URL && process.env.REDIS_URL);

describe('rate limits across two instances', { skip: enabled ? false : 'needs DATABASE_URL and REDIS_URL' }, () => {
  let d: Deployment;
  let a: AtriumProcess;
  let b: AtriumProcess;
  let token: string;
  let web: { client_id: string };
  let m2m: { client_id: string; client_secret: string };
  const api = async (method: string, path: string, body?: unknown) => {
    const res = await a.request(d.host(), `/api/v1${path}`, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    assert.ok(res.status < 300, `${method} ${path}: ${res.status} ${res.text}`);
    return res.json;
  };

  before(async () => {
    d = await createDeployment();
    [a, b] = await Promise.all([d.start(), d.start()]);
    token = await d.platformToken(a);
    await api('POST', '/tenants', { slug: 'acme', name: 'Acme' });
    web = await api('POST', '/tenants/acme/clients', { redirect_uris: [REDIRECT_URI], grant_types: ['authorization_code'], response_types: ['code'] });
    m2m = await api('POST', '/tenants/acme/clients', { grant_types: ['client_credentials'], response_types: [], redirect_uris: [] });
    await api('POST', '/tenants/acme/users', { email: 'alice@acme.test', password: 'alice-correct-horse' });
    await api('PUT', '/tenants/acme/config/security', { rate_limits: { token_per_client: { limit: 6, window_seconds: 3600 }, login_per_ip: { limit: 4, window_seconds: 3600 } } });
    await new Promise((r) => setTimeout(r, 300)); // B hears the change event
  });
  after(() => d?.drop());

  it('token requests for one client: six served in all, then both instances refuse', async () => {
    const tokenAt = (i: AtriumProcess) =>
      i.request(d.host('acme'), '/token', { method: 'POST', headers: { authorization: basic(m2m.client_id, m2m.client_secret), 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=client_credentials' });
    for (const [n, instance] of [a, b, a, b, a, b].entries()) {
      const res = await tokenAt(instance);
      assert.equal(res.status, 200, `request ${n + 1}: ${res.text}`);
    }
    for (const instance of [a, b]) {
      const refused = await tokenAt(instance);
      assert.equal(refused.status, 429, refused.text);
      assert.equal(refused.json.error, 'rate_limited');
      assert.ok(Number(refused.headers['retry-after']) > 0);
    }
  });

  it('sign-in attempts from one IP: four in all, then both instances refuse', async () => {
    // One interaction, opened on A; its login form is posted to A and B in turn.
    const auth = await a.request(d.host('acme'), `/auth?${new URLSearchParams({ client_id: web.client_id, redirect_uri: REDIRECT_URI, response_type: 'code', scope: 'openid', state: 'two-instances' }).toString()}`);
    assert.equal(auth.status, 303, auth.text);
    const cookie = ([auth.headers['set-cookie']].flat().filter(Boolean) as string[]).map((c) => c.split(';')[0]).join('; ');
    const location = new URL(String(auth.headers.location), d.publicUrl).pathname;
    const page = await a.request(d.host('acme'), location, { headers: { cookie } });
    assert.equal(page.status, 200, page.text.slice(0, 300));
    const body = new URLSearchParams({ csrf: hiddenInput(page.text, 'csrf'), email: 'alice@acme.test', password: 'wrong password' }).toString();
    const submit = (i: AtriumProcess, form = body) => i.request(d.host('acme'), `${location}/login`, { method: 'POST', headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' }, body: form });
    for (const [n, instance] of [a, b, a, b].entries()) assert.equal((await submit(instance)).status, 401, `attempt ${n + 1}`);
    for (const instance of [b, a]) {
      const refused = await submit(instance, body.replace('wrong+password', 'alice-correct-horse'));
      assert.equal(refused.status, 429);
      assert.match(refused.text, /Too many sign-in attempts/);
    }
  });
});
