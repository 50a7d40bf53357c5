/**
 * Custom domains are trusted only with proof (issue 18, item 5): an added domain is `pending`
 * with a challenge (a DNS TXT record at `_atrium-challenge.<domain>`, or an HTTP token at
 * `http://<domain>/.well-known/atrium-challenge/<token>`); it routes and becomes the issuer
 * only once `POST …/domains/:domain/verify` finds one of them. A verified domain that stops
 * proving control is reported (status `unverified`, an audit event), not dropped. The DNS
 * and HTTP servers are the test's own, on loopback.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { startTestAtrium, type TestAtrium } from './support/atrium.ts';
import { assertApiError } from './support/api-assertions.ts';
import { startTestDns, type TestDns } from './support/dns-server.ts';
import { loopbackAgent } from './support/http-client.ts';

async function issuerOn(t: TestAtrium, host: string): Promise<string | undefined> {
  const res = await request(`http://127.0.0.1:${t.port}/.well-known/openid-configuration`, { headers: { host, accept: 'application/json' }, dispatcher: loopbackAgent });
  const text = await res.body.text();
  try {
    return (JSON.parse(text) as { issuer?: string }).issuer;
  } catch {
    return undefined;
  }
}

const path = (slug: string, domain: string, tail = '') => `/tenants/${slug}/domains/${encodeURIComponent(domain)}${tail}`;

describe('custom domain verification', () => {
  let dns: TestDns;
  let t: TestAtrium;
  let web: http.Server;
  let webPort: number;
  const served = new Map<string, string>();
  before(async () => {
    dns = await startTestDns();
    // A re-check interval long enough never to run by itself: the test drives it.
    t = await startTestAtrium({ DNS_SERVERS: dns.server, DOMAIN_RECHECK_INTERVAL_MS: '0' });
    for (const slug of ['acme', 'globex']) assert.equal((await t.api('POST', '/tenants', { slug, name: slug })).status, 201);
    web = http.createServer((req, res) => {
      const body = served.get(req.url ?? '');
      if (body === undefined) return res.writeHead(404).end();
      res.writeHead(200, { 'content-type': 'text/plain' }).end(body);
    });
    await new Promise<void>((resolve) => web.listen(0, '127.0.0.1', resolve));
    webPort = (web.address() as AddressInfo).port;
  });
  after(async () => {
    web?.close();
    await t?.stop();
    await dns?.close();
  });

  it('keeps an added domain pending, not routed and not the issuer, until its DNS challenge is met', async () => {
    const domain = `login.acme-corp.test:${t.port}`;
    const added = await t.api('POST', '/tenants/acme/domains', { domain, primary: true });
    assert.equal(added.status, 201, JSON.stringify(added.body));
    assert.equal(added.body.status, 'pending');
    assert.equal(added.body.primary, false, 'not primary while pending');
    assert.equal(added.body.challenge.dns.name, '_atrium-challenge.login.acme-corp.test');
    assert.equal(added.body.challenge.dns.type, 'TXT');
    assert.match(added.body.challenge.dns.value, /^[A-Za-z0-9_-]{32,}$/);
    assert.equal(added.body.challenge.http.url, `http://${domain}/.well-known/atrium-challenge/${added.body.challenge.http.body}`);

    assert.equal(await issuerOn(t, domain), t.issuer('default'), 'a pending domain does not route');
    assert.equal((await t.api('GET', '/tenants/acme')).body.issuer, t.issuer('acme'), 'nor becomes the issuer');

    const early = await t.api('POST', path('acme', domain, '/verify'));
    assertApiError(early, 409, 'domain_not_verified');
    assert.equal((await t.api('GET', '/tenants/acme/domains')).body.domains[0].status, 'pending');

    dns.setTxt('_atrium-challenge.login.acme-corp.test', 'something-else', added.body.challenge.dns.value);
    const verified = await t.api('POST', path('acme', domain, '/verify'));
    assert.equal(verified.status, 200, JSON.stringify(verified.body));
    assert.equal(verified.body.status, 'verified');
    assert.equal(verified.body.primary, true, 'primary was asked for at adding time');
    assert.equal(await issuerOn(t, domain), `http://${domain}`);
    assert.equal((await t.api('GET', '/tenants/acme')).body.issuer, `http://${domain}`);

    const audit = await t.api('GET', '/tenants/acme/audit?action=tenant.domain_verified');
    assert.equal(audit.body.events.length, 1);
    const failed = await t.api('GET', '/tenants/acme/audit?action=tenant.domain_verification_failed');
    assert.equal(failed.body.events.length, 1);
  });

  it('accepts the HTTP challenge, fetched through the egress guard', async () => {
    const domain = `www.customer.test:${webPort}`;
    dns.setA('www.customer.test', '127.0.0.1');
    const added = await t.api('POST', '/tenants/globex/domains', { domain });
    assert.equal(added.status, 201, JSON.stringify(added.body));
    assertApiError(await t.api('POST', path('globex', domain, '/verify')), 409, 'domain_not_verified');
    served.set(`/.well-known/atrium-challenge/${added.body.challenge.http.body}`, `${added.body.challenge.http.body}\n`);
    const verified = await t.api('POST', path('globex', domain, '/verify'));
    assert.equal(verified.status, 200, JSON.stringify(verified.body));
    assert.equal(verified.body.status, 'verified');
    assert.equal(await issuerOn(t, domain), `http://${domain}`);
  });

  it('refuses an HTTP challenge on an internal address outside the allowed ranges', async () => {
    const domain = `metadata.customer.test:${webPort}`;
    dns.setA('metadata.customer.test', '169.254.169.254');
    const added = await t.api('POST', '/tenants/globex/domains', { domain });
    assert.equal(added.status, 201, JSON.stringify(added.body));
    assertApiError(await t.api('POST', path('globex', domain, '/verify')), 400, 'destination_not_allowed');
  });

  it("lets another tenant add a domain pending (no squatting), but not verify one that is someone else's", async () => {
    const domain = `login.acme-corp.test:${t.port}`;
    const theirs = await t.api('POST', '/tenants/globex/domains', { domain });
    assert.equal(theirs.status, 201, JSON.stringify(theirs.body));
    assert.notEqual(theirs.body.challenge.dns.value, undefined);
    dns.setTxt('_atrium-challenge.login.acme-corp.test', theirs.body.challenge.dns.value);
    assertApiError(await t.api('POST', path('globex', domain, '/verify')), 409, 'conflict');
    assert.equal(await issuerOn(t, domain), `http://${domain}`);
    assert.equal((await t.api('GET', '/tenants/acme')).body.issuer, `http://${domain}`, 'still acme');
    assert.equal((await t.api('DELETE', path('globex', domain))).status, 204);
  });

  it('reports a verified domain that stops proving control, without dropping it', async () => {
    const domain = `login.acme-corp.test:${t.port}`;
    dns.remove('_atrium-challenge.login.acme-corp.test');
    const checks = t.atrium.services.domainChecks;
    for (let i = 0; i < 3; i++) await checks.recheckAll({ force: true });
    const listed = (await t.api('GET', '/tenants/acme/domains')).body.domains.find((d: { domain: string }) => d.domain === domain);
    assert.equal(listed.status, 'unverified');
    assert.equal(await issuerOn(t, domain), `http://${domain}`, 'still served: an outage is not how control is reported');
    const audit = await t.api('GET', '/tenants/acme/audit?action=tenant.domain_unverified');
    assert.equal(audit.body.events.length, 1);

    // Proving control again brings it back.
    const challenge = (await t.api('GET', '/tenants/acme/domains')).body.domains.find((d: { domain: string }) => d.domain === domain).challenge;
    dns.setTxt('_atrium-challenge.login.acme-corp.test', challenge.dns.value);
    await checks.recheckAll({ force: true });
    assert.equal((await t.api('GET', '/tenants/acme/domains')).body.domains.find((d: { domain: string }) => d.domain === domain).status, 'verified');
  });

  it('answers bad domain inputs with a 4xx, never a 5xx', async () => {
    const inputs: unknown[] = ['', '   ', 'ünïcode.test', 'login.example.test.', 'login.example.test:99999', 'login.example.test:0', 'user@login.example.test', '[::1]', '::1', '[::1]:443', '10.0.0.1', '169.254.169.254:80',
      'x'.repeat(10 * 1024), 'a..b.test', '*.example.test', 'http://login.example.test', 'login.example.test/path', 'login.example.test\u0000', 'login .example.test', 42, null, ['a.test'], { domain: 'a.test' }];
    for (const domain of inputs) {
      const res = await t.api('POST', '/tenants/acme/domains', { domain });
      assert.ok(res.status >= 400 && res.status < 500, `${JSON.stringify(domain).slice(0, 60)}: ${res.status} ${JSON.stringify(res.body).slice(0, 200)}`);
    }
    // Punycode is a hostname like any other.
    assert.equal((await t.api('POST', '/tenants/acme/domains', { domain: 'xn--bcher-kva.test' })).status, 201);
    for (const raw of ['%20', 'xn--bcher-kva.test.', '%C3%BC.test', '%5B%3A%3A1%5D', 'a'.repeat(10 * 1024), 'user%40host.test', 'nothing.test']) {
      for (const [method, tail] of [['POST', '/verify'], ['DELETE', '']] as const) {
        const res = await t.api(method, `/tenants/acme/domains/${raw}${tail}`);
        assert.ok(res.status >= 400 && res.status < 500, `${method} ${raw.slice(0, 40)}${tail}: ${res.status}`);
      }
    }
  });
});
