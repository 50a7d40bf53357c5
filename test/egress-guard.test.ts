/**
 * Server-side request forgery (issue 18, item 3): a tenant can aim Atrium's outbound
 * connections (federation upstreams, their JWKS and token endpoints, its SMTP server), so
 * every one goes through the egress guard. Internal destinations are a 400
 * `destination_not_allowed` (IP literals, names that resolve inside, redirects into the
 * network); other failures read alike, so the connection test is no port scanner; bodies are
 * capped. A DNS server of the test's own stands for DNS (no public DNS).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort, startTestAtrium, type TestAtrium } from './support/atrium.ts';
import { assertApiError } from './support/api-assertions.ts';
import { startTestDns, type TestDns } from './support/dns-server.ts';

const connection = (issuer: string) => ({ provider: 'generic_oidc', issuer, client_id: 'downstream', client_secret: 'an-upstream-secret' });

async function testConnection(t: TestAtrium, issuer: string) {
  const put = await t.api('PUT', '/tenants/acme/federation/corp', connection(issuer));
  assert.ok(put.status === 200 || put.status === 201, JSON.stringify(put.body));
  return t.api('POST', '/tenants/acme/federation/corp/test');
}

async function listen(server: http.Server | https.Server | net.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as net.AddressInfo).port;
}

/** A TCP listener that answers like Redis and counts who connected. */
async function fakeRedis(): Promise<{ port: number; connections: () => number; close: () => void }> {
  let count = 0;
  const server = net.createServer((socket) => {
    count++;
    socket.end('-ERR unknown command\r\n');
  });
  const port = await listen(server);
  return { port, connections: () => count, close: () => server.close() };
}

describe('egress guard, staging', () => {
  let dns: TestDns;
  let t: TestAtrium;
  before(async () => {
    dns = await startTestDns();
    t = await startTestAtrium({ ATRIUM_ENV: 'staging', DNS_SERVERS: dns.server });
    assert.equal((await t.api('POST', '/tenants', { slug: 'acme', name: 'Acme' })).status, 201);
  });
  after(async () => {
    await t?.stop();
    await dns?.close();
  });

  it('refuses internal addresses as upstream: 400 destination_not_allowed, nothing fetched', async () => {
    const redis = await fakeRedis();
    try {
      for (const host of [`127.0.0.1:${redis.port}`, '169.254.169.254', '10.0.0.1', '100.64.0.1', '0.0.0.0', `[::ffff:127.0.0.1]:${redis.port}`, '[::1]', '[fd00::1]', '[fe80::1]', '224.0.0.1']) {
        assertApiError(await testConnection(t, `https://${host}`), 400, 'destination_not_allowed');
      }
      assert.equal(redis.connections(), 0, 'no connection reached the internal port');
    } finally {
      redis.close();
    }
  });

  it('refuses a name that resolves to an internal address', async () => {
    const redis = await fakeRedis();
    try {
      dns.setA('idp.rebind.test', '127.0.0.1');
      assertApiError(await testConnection(t, `https://idp.rebind.test:${redis.port}`), 400, 'destination_not_allowed');
      dns.setA('idp.mixed.test', '93.184.216.34', '10.1.2.3');
      assertApiError(await testConnection(t, 'https://idp.mixed.test'), 400, 'destination_not_allowed');
      assert.equal(redis.connections(), 0);
    } finally {
      redis.close();
    }
  });

  it('refuses a tenant SMTP server on an internal address (Redis port) without connecting', async () => {
    const redis = await fakeRedis();
    try {
      dns.setA('smtp.inside.test', '127.0.0.1');
      for (const host of ['127.0.0.1', 'smtp.inside.test']) {
        const put = await t.api('PUT', '/tenants/acme/config/integrations', { smtp: { host, port: redis.port, from: 'it@acme.test' } });
        assert.equal(put.status, 200, JSON.stringify(put.body));
        const invited = await t.api('POST', '/tenants/acme/invitations', { email: `someone-${host}@acme.test` });
        assert.equal(invited.status, 201, JSON.stringify(invited.body));
        assert.equal(invited.body.mail_sent, false);
      }
      assert.equal(redis.connections(), 0, 'nothing connected to the Redis stand-in');
    } finally {
      redis.close();
    }
  });
});

describe('egress guard, failures read alike', () => {
  let t: TestAtrium;
  let dir: string;
  let tlsServer: https.Server;
  let garbage: net.Server;
  before(async () => {
    // The operator allows loopback here, so the connections are made and fail in different ways.
    t = await startTestAtrium({ ATRIUM_ENV: 'staging', EGRESS_ALLOW: '127.0.0.1/32' });
    assert.equal((await t.api('POST', '/tenants', { slug: 'acme', name: 'Acme' })).status, 201);
    dir = mkdtempSync(path.join(tmpdir(), 'atrium-tls-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem')], { stdio: 'ignore' });
    tlsServer = https.createServer({ key: readFileSync(path.join(dir, 'key.pem')), cert: readFileSync(path.join(dir, 'cert.pem')) }, (_req, res) => res.end('{}'));
    garbage = net.createServer((socket) => socket.end('SSH-2.0-OpenSSH_9.6\r\n'));
    await Promise.all([listen(tlsServer), listen(garbage)]);
  });
  after(async () => {
    tlsServer?.close();
    garbage?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
    await t?.stop();
  });

  it('says the same for a closed port, a self-signed certificate and a non-HTTP service', async () => {
    const targets = [`https://127.0.0.1:${await freePort()}`, `https://127.0.0.1:${(tlsServer.address() as net.AddressInfo).port}`, `https://127.0.0.1:${(garbage.address() as net.AddressInfo).port}`];
    const details: string[] = [];
    for (const issuer of targets) {
      const res = await testConnection(t, issuer);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.ok, false);
      details.push(res.body.steps[0].detail.replaceAll(issuer, '<issuer>'));
    }
    assert.equal(new Set(details).size, 1, `one message for every failure: ${JSON.stringify(details)}`);
    assert.doesNotMatch(details[0]!, /ECONNREFUSED|certificate|self.signed|refused/i);
  });
});

describe('egress guard, development', () => {
  let t: TestAtrium;
  let upstream: http.Server;
  let base: string;
  let jwksBody = '';
  before(async () => {
    t = await startTestAtrium();
    assert.equal((await t.api('POST', '/tenants', { slug: 'acme', name: 'Acme' })).status, 201);
    upstream = http.createServer((req, res) => {
      const json = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      if (req.url === '/.well-known/openid-configuration') {
        return json(200, { issuer: base, authorization_endpoint: `${base}/auth`, token_endpoint: `${base}/token`, jwks_uri: `${base}/jwks`, response_types_supported: ['code'], grant_types_supported: ['authorization_code'] });
      }
      if (req.url === '/jwks') return res.writeHead(200, { 'content-type': 'application/json' }).end(jwksBody);
      if (req.url === '/jwks-redirect') return res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' }).end();
      res.writeHead(404).end();
    });
    base = `http://127.0.0.1:${await listen(upstream)}`;
  });
  after(async () => {
    upstream?.close();
    await t?.stop();
  });

  it('allows loopback upstreams in development, and checks redirects hop by hop', async () => {
    jwksBody = JSON.stringify({ keys: [{ kty: 'EC', crv: 'P-256', x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU', y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0', use: 'sig' }] });
    const ok = await testConnection(t, base);
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.deepEqual(ok.body.steps.map((s: { name: string; ok: boolean }) => [s.name, s.ok]), [['discovery', true], ['jwks', true], ['credentials', true]]);

    jwksBody = '';
    upstream.removeAllListeners('request');
    upstream.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
      if (req.url === '/.well-known/openid-configuration') {
        return res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ issuer: base, authorization_endpoint: `${base}/auth`, token_endpoint: `${base}/token`, jwks_uri: `${base}/jwks-redirect` }));
      }
      res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' }).end();
    });
    assertApiError(await testConnection(t, base), 400, 'destination_not_allowed');
  });

  it('caps the size of what it reads', async () => {
    upstream.removeAllListeners('request');
    const key = { kty: 'EC', crv: 'P-256', x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU', y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0', use: 'sig', padding: 'x'.repeat(3 * 1024 * 1024) };
    upstream.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
      if (req.url === '/.well-known/openid-configuration') {
        return res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ issuer: base, authorization_endpoint: `${base}/auth`, token_endpoint: `${base}/token`, jwks_uri: `${base}/jwks` }));
      }
      // No content-length: the cap must hold while reading, not only on the header.
      res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
      res.end(JSON.stringify({ keys: [key] }));
    });
    const res = await testConnection(t, base);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const jwks = res.body.steps.find((s: { name: string }) => s.name === 'jwks');
    assert.equal(jwks.ok, false, JSON.stringify(res.body));
  });
});
