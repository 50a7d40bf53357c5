/**
 * Custom domains through the management API: a host equal to the domain resolves to the
 * tenant and the primary domain becomes the issuer (the registry forgets "unknown host"
 * at once and the Provider is rebuilt); removal makes the host unknown again; validation,
 * uniqueness across tenants, scopes and audit events.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestAtrium, type TestAtrium } from './support/atrium.ts';
import { assertApiError } from './support/api-assertions.ts';
import { getOnPort } from './support/http-client.ts';

const discovery = (t: TestAtrium, host: string, headers: Record<string, string> = {}) => getOnPort(t.port, '/.well-known/openid-configuration', { host, accept: 'application/json', ...headers });

describe('custom domains, development', () => {
  let t: TestAtrium;
  let domain: string;
  before(async () => {
    t = await startTestAtrium();
    for (const slug of ['acme', 'globex']) assert.equal((await t.api('POST', '/tenants', { slug, name: slug })).status, 201);
    domain = `login.acme-corp.test:${t.port}`;
  });
  after(() => t?.stop());

  it('resolves the domain to the tenant once added, with the primary domain as issuer, and forgets it once removed', async () => {
    // Unknown first (development falls back to the default tenant): this caches "no such domain".
    assert.equal((await discovery(t, domain)).json.issuer, t.issuer('default'));

    const added = await t.api('POST', '/tenants/acme/domains', { domain: `Login.ACME-corp.test:${t.port}` });
    assert.equal(added.status, 201, JSON.stringify(added.body));
    assert.deepEqual({ domain: added.body.domain, primary: added.body.primary, status: added.body.status }, { domain, primary: false, status: 'pending' });
    assert.equal(added.headers.get('location'), `/api/v1/tenants/acme/domains/${encodeURIComponent(domain)}`);
    // Routes only once proven (test/domain-verification.test.ts).
    t.dns.setTxt(added.body.challenge.dns.name, added.body.challenge.dns.value);
    const verified = await t.api('POST', `/tenants/acme/domains/${encodeURIComponent(domain)}/verify`);
    assert.deepEqual({ domain: verified.body.domain, primary: verified.body.primary }, { domain, primary: true });

    // A custom domain comes first; http in development. A header naming another tenant is a
    // conflict (issue 18; it used to lose silently to the domain).
    assert.equal((await discovery(t, domain, { 'x-tenant-id': 'globex' })).json.error, 'tenant_conflict');
    const found = await discovery(t, domain, { 'x-tenant-id': 'acme' });
    assert.equal(found.json.issuer, `http://${domain}`);
    assert.equal(found.json.authorization_endpoint, `http://${domain}/auth`);
    assert.equal((await t.api('GET', '/tenants/acme')).body.issuer, `http://${domain}`);
    // The subdomain still reaches the tenant, under its one issuer.
    assert.equal((await discovery(t, `acme.localhost:${t.port}`)).json.issuer, `http://${domain}`);

    const list = await t.api('GET', '/tenants/acme/domains');
    assert.equal(list.status, 200);
    assert.deepEqual(list.body.domains.map((d: { domain: string; primary: boolean }) => [d.domain, d.primary]), [[domain, true]]);

    const removed = await t.api('DELETE', `/tenants/acme/domains/${encodeURIComponent(domain)}`);
    assert.equal(removed.status, 204);
    assert.equal((await discovery(t, domain)).json.issuer, t.issuer('default'));
    assert.equal((await discovery(t, `acme.localhost:${t.port}`)).json.issuer, t.issuer('acme'));
    assert.deepEqual((await t.api('GET', '/tenants/acme/domains')).body.domains, []);
    assertApiError(await t.api('DELETE', `/tenants/acme/domains/${encodeURIComponent(domain)}`), 404, 'not_found');
  });

  it('keeps one primary: the first domain or one added with primary; removing the primary promotes the oldest other', async () => {
    const first = `id.initech.test:${t.port}`;
    const second = `sso.initech.test:${t.port}`;
    const third = `auth.initech.test:${t.port}`;
    assert.equal((await t.addVerifiedDomain('globex', first)).body.primary, true);
    assert.equal((await t.addVerifiedDomain('globex', second)).body.primary, false);
    assert.equal((await discovery(t, second)).json.issuer, `http://${first}`);
    assert.equal((await t.addVerifiedDomain('globex', third, { primary: true })).body.primary, true);
    assert.equal((await discovery(t, first)).json.issuer, `http://${third}`);
    const primaries = (list: { domain: string; primary: boolean }[]) => list.filter((d) => d.primary).map((d) => d.domain);
    assert.deepEqual(primaries((await t.api('GET', '/tenants/globex/domains')).body.domains), [third]);

    // An existing domain can be made the primary (200); re-adding it otherwise is a 409.
    const again = await t.api('POST', '/tenants/globex/domains', { domain: second, primary: true });
    assert.equal(again.status, 200, JSON.stringify(again.body));
    assert.deepEqual(primaries((await t.api('GET', '/tenants/globex/domains')).body.domains), [second]);
    assertApiError(await t.api('POST', '/tenants/globex/domains', { domain: second }), 409, 'conflict');
    assertApiError(await t.api('POST', '/tenants/globex/domains', { domain: second, primary: true }), 409, 'conflict');

    assert.equal((await t.api('DELETE', `/tenants/globex/domains/${second}`)).status, 204);
    assert.deepEqual(primaries((await t.api('GET', '/tenants/globex/domains')).body.domains), [first]);
    assert.equal((await discovery(t, third)).json.issuer, `http://${first}`);
    for (const d of [first, third]) assert.equal((await t.api('DELETE', `/tenants/globex/domains/${d}`)).status, 204);
    assert.equal((await t.api('GET', '/tenants/globex')).body.issuer, t.issuer('globex'));
  });

  it("refuses another tenant's domain with a 409, whatever its case", async () => {
    const taken = `www.hooli.test:${t.port}`;
    assert.equal((await t.addVerifiedDomain('acme', taken)).status, 201);
    // Another tenant may claim it (pending: no squatting), but cannot prove it while acme holds it.
    const claimed = await t.api('POST', '/tenants/globex/domains', { domain: taken.toUpperCase(), primary: true });
    assert.equal(claimed.status, 201);
    t.dns.setTxt(claimed.body.challenge.dns.name, claimed.body.challenge.dns.value);
    assertApiError(await t.api('POST', `/tenants/globex/domains/${taken}/verify`), 409, 'conflict', /another tenant/);
    assert.deepEqual((await t.api('GET', '/tenants/globex/domains')).body.domains.map((d: { status: string }) => d.status), ['pending']);
    assert.equal((await t.api('DELETE', `/tenants/globex/domains/${taken}`)).status, 204);
    // The refused change left globex as it was: still its own issuer, the host still acme's.
    assert.equal((await discovery(t, taken)).json.issuer, `http://${taken}`);
    assert.equal((await t.api('DELETE', `/tenants/acme/domains/${taken}`)).status, 204);
  });

  it('answers 400 for what is not a hostname', async () => {
    for (const bad of [
      '',
      'localhost',
      'not a host',
      'http://login.example.test',
      'login.example.test/path',
      '*.example.test',
      '-login.example.test',
      'login-.example.test',
      'login..example.test',
      'login.example.test.',
      'login_x.example.test',
      `${'a'.repeat(64)}.example.test`,
      `${'abcdefghi.'.repeat(26)}test`,
      '127.0.0.1',
      '[::1]:8080',
      'login.example.test:0',
      'login.example.test:65536',
      'login.example.test:',
      `localhost:${t.port}`,
      `acme.localhost:${t.port}`,
      'a.b.localhost',
    ]) {
      assertApiError(await t.api('POST', '/tenants/acme/domains', { domain: bad }), 400, undefined, undefined);
    }
    for (const body of [{}, { domain: 42 }, { domain: 'ok.example.test', primary: 'yes' }, { domain: 'ok.example.test', extra: 1 }, '[']) {
      assertApiError(await t.api('POST', '/tenants/acme/domains', body), 400);
    }
    assert.deepEqual((await t.api('GET', '/tenants/acme/domains')).body.domains, []);
  });

  it('requires atrium:tenants:read to list and atrium:tenants:write to change', async () => {
    const readOnly = await t.platformToken('atrium:tenants:read');
    const other = await t.platformToken('atrium:cross-tenant:read atrium:cross-tenant:write');
    assertApiError(await t.api('GET', '/tenants/acme/domains', undefined, other), 403, 'insufficient_scope');
    assertApiError(await t.api('POST', '/tenants/acme/domains', { domain: 'x.example.test' }, readOnly), 403, 'insufficient_scope');
    assertApiError(await t.api('POST', '/tenants/acme/domains', { domain: 'x.example.test' }, other), 403, 'insufficient_scope');
    assertApiError(await t.api('DELETE', '/tenants/acme/domains/x.example.test', undefined, readOnly), 403, 'insufficient_scope');
    assert.equal((await t.api('GET', '/tenants/acme/domains', undefined, readOnly)).status, 200);
  });

  it('answers 404 for an unknown tenant', async () => {
    assertApiError(await t.api('GET', '/tenants/nope/domains'), 404, 'not_found');
    assertApiError(await t.api('POST', '/tenants/nope/domains', { domain: 'x.example.test' }), 404, 'not_found');
    assertApiError(await t.api('DELETE', '/tenants/nope/domains/x.example.test'), 404, 'not_found');
  });

  it('audits every change in the tenant', async () => {
    const res = await t.api('GET', '/tenants/acme/audit?limit=200');
    assert.equal(res.status, 200);
    const events = res.body.events as { action: string; target: string; actor: string; details: Record<string, unknown> }[];
    const added = events.find((e) => e.action === 'tenant.domain_added' && e.target === domain)!;
    assert.ok(added, JSON.stringify(events));
    assert.equal(added.actor, 'client:platform-test');
    assert.equal(added.details.primary, false, 'pending when added');
    assert.equal(events.find((e) => e.action === 'tenant.domain_verified' && e.target === domain)?.details.primary, true);
    assert.ok(events.some((e) => e.action === 'tenant.domain_removed' && e.target === domain));
    const globex = (await t.api('GET', '/tenants/globex/audit?limit=200')).body.events as { action: string; target: string }[];
    assert.ok(globex.some((e) => e.action === 'tenant.domain_primary_changed'));
    assert.ok(!globex.some((e) => e.target === domain), "acme's domain events stay in acme");
  });
});

describe('custom domains, staging', () => {
  let t: TestAtrium;
  before(async () => {
    t = await startTestAtrium({ ATRIUM_ENV: 'staging', MULTI_TENANCY_EXTRACTION_PRIORITY: 'subdomain' });
    assert.equal((await t.api('POST', '/tenants', { slug: 'acme', name: 'Acme' })).status, 201);
  });
  after(() => t?.stop());

  it('refuses a port, serves the domain over an https issuer, and makes the host unknown (400) once removed', async () => {
    assertApiError(await t.api('POST', '/tenants/acme/domains', { domain: 'login.acme-corp.test:8443' }), 400, 'invalid_domain', /development/);
    assert.equal((await discovery(t, 'login.acme-corp.test')).status, 400);
    assert.equal((await t.addVerifiedDomain('acme', 'login.acme-corp.test')).status, 201);
    // Without a port, the domain matches the host on any port.
    assert.equal((await discovery(t, 'login.acme-corp.test')).json.issuer, 'https://login.acme-corp.test');
    assert.equal((await discovery(t, 'login.acme-corp.test:8443')).json.issuer, 'https://login.acme-corp.test');
    assert.equal((await t.api('DELETE', '/tenants/acme/domains/LOGIN.acme-corp.test')).status, 204);
    const gone = await discovery(t, 'login.acme-corp.test');
    assert.equal(gone.status, 400);
    // Issue 18: a host the deployment does not serve is refused before tenant resolution (was unknown_tenant).
    assert.equal(gone.json.error, 'unknown_host');
  });
});
