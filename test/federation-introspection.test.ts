/**
 * Issue 14, item 3: a connection's `introspection_endpoint`. Against a real upstream (a bare
 * oidc-provider on loopback with `features.introspection`), a user signs in at acme through
 * it with openid-client and refreshes; each refresh asks the upstream (RFC 7662) about the
 * token it issued at the sign-in. When the upstream revokes the user's grant, the next
 * refresh at acme is `invalid_grant` and the acme session is gone. An unreachable or
 * refused (internal) introspection endpoint refuses the refresh with a 503, keeps the grant,
 * and the process stays up. A connection without the field is never introspected.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import * as oidc from 'openid-client';
import { startTestAtrium, type TestAtrium } from './support/atrium.ts';
import { authorizationRequest as clientAuthorizationRequest, createTenantFixture, discover, REDIRECT_URI, type TenantFixture } from './support/fixtures.ts';
import { httpFetch, TestBrowser } from './support/http-client.ts';
import { asTenant } from './support/account-security.ts';
import { startPlainProvider, type PlainProvider } from './support/plain-oidc-provider.ts';
import { fewest } from './support/timing.ts';
import { finishDownstream, signInAtPlainUpstream, startAtUpstream, type Downstream } from './support/federation-flow.ts';

let t: TestAtrium;
let plain: PlainProvider;
let acme: TenantFixture;
let globex: TenantFixture;
let introspectionUrl: string;

const ACCOUNTS = ['ann', 'ben', 'cid', 'dot', 'eve', 'fay', 'gus', 'hal', 'ida', 'jon', 'kim'] as const;

/** How many introspection requests the upstream has received. */
const introspections = () => plain.requests.filter((r) => r.method === 'POST' && r.url.pathname === '/token/introspection').length;

const connection = (extra: Record<string, unknown> = {}) => ({
  provider: 'generic_oidc', discovery_endpoint: `${plain.issuer}/.well-known/openid-configuration`, client_id: plain.clientId, client_secret: plain.clientSecret, ...extra,
});

async function put(slug: string, name: string, body: Record<string, unknown>, token?: string) {
  return t.api('PUT', `/tenants/${slug}/federation/${name}`, body, token);
}

before(async () => {
  t = await startTestAtrium();
  acme = await createTenantFixture(t, 'acme');
  globex = await createTenantFixture(t, 'globex');
  plain = await startPlainProvider({
    redirectUris: [`${t.issuer('acme')}/federation/callback`],
    accounts: Object.fromEntries(ACCOUNTS.map((a) => [`sub-${a}`, { email: `${a}@plain.test`, email_verified: true, name: a }])),
    introspection: true,
  });
  introspectionUrl = `${plain.issuer}/token/introspection`;
  for (const [name, extra] of [['checked', { introspection_endpoint: introspectionUrl }], ['unchecked', {}]] as const) {
    const res = await put('acme', name, connection({ display_name: name, ...extra }));
    assert.equal(res.status, 201, JSON.stringify(res.body));
  }
});
after(async () => {
  await plain?.close();
  await t?.stop();
});

interface SignedIn {
  browser: TestBrowser;
  request: Downstream;
  tokens: oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers;
  userId: string;
}

/** Signs `account` in at acme's web client through connection `name`, asking for offline access (a refresh token). */
async function signIn(name: string, account: (typeof ACCOUNTS)[number]): Promise<SignedIn> {
  const browser = new TestBrowser();
  const { url, ...rest } = await clientAuthorizationRequest(acme.issuer, acme, { scope: 'openid email offline_access', prompt: 'consent' });
  const request: Downstream = { fixture: acme, ...rest, authUrl: url };
  const callback = await signInAtPlainUpstream(browser, await startAtUpstream(browser, request, name), `${account}@plain.test`, t.port);
  const done = await finishDownstream(browser, callback);
  assert.ok(done.redirect, `sign-in: ${done.status} ${done.html.slice(0, 300)}`);
  const tokens = await oidc.authorizationCodeGrant(request.config, done.redirect, { pkceCodeVerifier: request.verifier, expectedState: request.state, expectedNonce: request.nonce, idTokenExpected: true });
  assert.ok(tokens.refresh_token, 'offline access gives a refresh token');
  return { browser, request, tokens, userId: tokens.claims()!.sub };
}

/** `prompt=none` at acme in the browser: the error the client gets (null: a code). */
async function silent(browser: TestBrowser): Promise<string | null> {
  const { url } = await clientAuthorizationRequest(acme.issuer, acme, { prompt: 'none' });
  const answer = await browser.follow(url, (u) => u.href.startsWith(REDIRECT_URI));
  return answer.url.searchParams.get('error') ?? (answer.url.searchParams.get('code') ? null : 'no code');
}

/** A refresh_token grant by acme's web client, as sent on the wire (openid-client reads a 503 as a bare HTTP error). */
async function rawRefresh(refreshToken: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await httpFetch(`${acme.issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${encodeURIComponent(acme.clientId)}:${encodeURIComponent(acme.clientSecret)}`).toString('base64')}` },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken }).toString(),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function refusals(): Promise<{ outcome: string; target: string; details: Record<string, unknown> }[]> {
  return (await t.api('GET', '/tenants/acme/audit?action=federation.refresh_refused&limit=50')).body.events;
}

describe('introspection at refresh against a bare oidc-provider', () => {
  it('asks the upstream at each refresh; once the upstream revokes the grant, the next refresh is invalid_grant and the acme session is gone', async () => {
    const ann = await signIn('checked', 'ann');
    const before = introspections();
    const first = await oidc.refreshTokenGrant(ann.request.config, ann.tokens.refresh_token!);
    assert.ok(first.access_token && first.refresh_token);
    assert.equal(introspections(), before + 1, 'one introspection per refresh');
    const second = await oidc.refreshTokenGrant(ann.request.config, first.refresh_token);
    assert.equal(introspections(), before + 2);
    assert.notEqual(await silent(ann.browser), 'login_required', 'signed in at acme');
    // The upstream token is kept sealed (an envelope under the tenant and sign-in), and it is the upstream's own, live token.
    const kept = await asTenant(t, 'acme', async (q) => (await q.query<{ interaction_uid: string; upstream_token_enc: string; upstream_token_kind: string }>('SELECT interaction_uid, upstream_token_enc, upstream_token_kind FROM federated_sessions WHERE user_id = $1', [ann.userId])).rows);
    assert.equal(kept.length, 1);
    assert.equal(kept[0]!.upstream_token_kind, 'access_token', 'the bare provider issued no refresh token to acme: its access token is asked about');
    assert.match(kept[0]!.upstream_token_enc, /^v1\./);
    const tenantId = (await t.atrium.services.tenantStore.findBySlug('acme'))!.id;
    const opened = t.atrium.services.box.open(kept[0]!.upstream_token_enc, `federated-session-token:${tenantId}:${kept[0]!.interaction_uid}`);
    assert.ok(!kept[0]!.upstream_token_enc.includes(opened), 'not in plain text');
    const asked = await httpFetch(introspectionUrl, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ token: opened, client_id: plain.clientId, client_secret: plain.clientSecret }).toString() });
    assert.equal(((await asked.json()) as { active: boolean }).active, true, "the sealed token is the upstream's live token");
    const counted = introspections();
    assert.equal((await t.api('GET', `/tenants/acme/users/${ann.userId}/sessions`)).body.data.length, 1);

    // The upstream's admin disables the user: every grant the user gave goes.
    assert.equal(await plain.revokeGrants('sub-ann'), 1);
    await assert.rejects(oidc.refreshTokenGrant(ann.request.config, second.refresh_token!), (err: oidc.ResponseBodyError) => err.error === 'invalid_grant' && /upstream/.test(err.error_description ?? ''));
    assert.equal(introspections(), counted + 1);
    assert.equal(await silent(ann.browser), 'login_required', 'the acme session ended');
    assert.equal((await t.api('GET', `/tenants/acme/users/${ann.userId}/sessions`)).body.data.length, 0, 'no session in the API list');
    const events = await refusals();
    const refused = events.find((e) => e.target === ann.userId);
    assert.ok(refused, JSON.stringify(events));
    assert.deepEqual({ ...refused.details, client_id: undefined }, { connection: 'checked', client_id: undefined, verdict: 'inactive', reason: 'upstream_inactive', grant_ended: true, session_ended: true });
    // The grant ended with it: not even a retry of the refused refresh token gets through, and the upstream is not asked again.
    await assert.rejects(oidc.refreshTokenGrant(ann.request.config, second.refresh_token!), (err: oidc.ResponseBodyError) => err.error === 'invalid_grant');
    assert.equal(introspections(), counted + 1);
  });

  it("an upstream sign-out (the upstream session ended) makes the next refresh invalid_grant too", async () => {
    const ben = await signIn('checked', 'ben');
    const refreshed = await oidc.refreshTokenGrant(ben.request.config, ben.tokens.refresh_token!);
    // The user signs out at the upstream itself (its own end_session, in the same browser).
    const page = await ben.browser.follow(`${plain.issuer}/session/end`);
    const html = await page.res.text();
    const xsrf = /name="xsrf" value="([^"]+)"/.exec(html)?.[1];
    assert.ok(xsrf, html.slice(0, 300));
    const confirmed = await ben.browser.postForm(`${plain.issuer}/session/end/confirm`, { xsrf, logout: 'yes' });
    assert.ok(confirmed.status === 303 || confirmed.status === 200, String(confirmed.status));
    await assert.rejects(oidc.refreshTokenGrant(ben.request.config, refreshed.refresh_token!), (err: oidc.ResponseBodyError) => err.error === 'invalid_grant');
    assert.equal(await silent(ben.browser), 'login_required');
  });

  it('a connection without introspection_endpoint is never introspected', async () => {
    const cid = await signIn('unchecked', 'cid');
    const before = introspections();
    const refreshed = await oidc.refreshTokenGrant(cid.request.config, cid.tokens.refresh_token!);
    assert.equal(introspections(), before, 'the upstream was not asked');
    // Even with the user's upstream grant gone, the refresh goes on: nothing was asked to check it.
    assert.equal(await plain.revokeGrants('sub-cid'), 1);
    const after = await oidc.refreshTokenGrant(cid.request.config, refreshed.refresh_token!).catch((err: unknown) => err);
    assert.ok(!(after instanceof Error), `the refresh goes on: ${String(after)}`);
    assert.equal(introspections(), before);
    assert.equal((await t.api('GET', '/tenants/acme/federation/unchecked')).body.introspection_endpoint, null);
  });

  it('an unreachable introspection endpoint refuses the refresh with a 503 (not a 500), keeps the grant, and the process lives on', async () => {
    const dot = await signIn('checked', 'dot');
    // A listener that drops every connection unanswered, held for the test: a port merely
    // found free could be taken meanwhile by another test's server, which would answer.
    const dropper = net.createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => dropper.listen(0, '127.0.0.1', resolve));
    const closed = `http://127.0.0.1:${(dropper.address() as AddressInfo).port}/token/introspection`;
    assert.equal((await put('acme', 'checked', connection({ display_name: 'checked', introspection_endpoint: closed }))).status, 200);
    const unreachable = await rawRefresh(dot.tokens.refresh_token!).finally(() => dropper.close());
    assert.equal(unreachable.status, 503, JSON.stringify({ body: unreachable.body, audit: (await refusals()).find((e) => e.target === dot.userId)?.details }));
    assert.equal(unreachable.body.error, 'temporarily_unavailable');
    assert.ok(unreachable.body.correlation_id, 'with a correlation id');
    const refused = (await refusals()).find((e) => e.target === dot.userId);
    assert.equal(refused?.details.verdict, 'unavailable');
    assert.equal(refused?.details.session_ended, false);
    assert.equal((await t.api('GET', '/tenants/acme/federation/checked')).status, 200, 'the process answers');
    assert.notEqual(await silent(dot.browser), 'login_required', 'the session was kept');
    // Back in reach: the same refresh token works (nothing was consumed).
    assert.equal((await put('acme', 'checked', connection({ display_name: 'checked', introspection_endpoint: introspectionUrl }))).status, 200);
    const again = await oidc.refreshTokenGrant(dot.request.config, dot.tokens.refresh_token!);
    assert.ok(again.access_token);
  });

  it('an introspection endpoint at an internal address is accepted as a URL, refused by the egress guard at use: 503, nothing sent', async () => {
    const eve = await signIn('checked', 'eve');
    assert.equal((await put('acme', 'checked', connection({ display_name: 'checked', introspection_endpoint: 'https://10.255.0.1/introspect' }))).status, 200);
    try {
      const refusedAtUse = await rawRefresh(eve.tokens.refresh_token!);
      assert.equal(refusedAtUse.status, 503, JSON.stringify(refusedAtUse.body));
      const refused = (await refusals()).find((e) => e.target === eve.userId);
      assert.equal(refused?.details.reason, 'destination_not_allowed');
    } finally {
      assert.equal((await put('acme', 'checked', connection({ display_name: 'checked', introspection_endpoint: introspectionUrl }))).status, 200);
    }
  });
});

describe('what the check costs', () => {
  /** The running sum and count of transactions per token request (storage/database.ts counts them). */
  async function transactions(): Promise<{ sum: number; count: number }> {
    const text = await t.atrium.services.metrics.text();
    const read = (suffix: string) => Number(new RegExp(`^atrium_db_transactions_per_request_${suffix}\\{route_class="oidc-token"\\} (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
    return { sum: read('sum'), count: read('count') };
  }

  it('a refresh from an upstream sign-in runs one transaction more than a password one (the upstream sign-in and its connection, read together), checked or not; a checked one adds one upstream request', async (ctx) => {
    const checked = await signIn('checked', 'jon');
    const unchecked = await signIn('unchecked', 'jon');
    const tokens = { checked: checked.tokens.refresh_token!, unchecked: unchecked.tokens.refresh_token! };
    const refresh = async (which: 'checked' | 'unchecked') => {
      const started = performance.now();
      tokens[which] = (await oidc.refreshTokenGrant((which === 'checked' ? checked : unchecked).request.config, tokens[which])).refresh_token!;
      return performance.now() - started;
    };
    await refresh('checked');
    await refresh('unchecked');
    const perRefresh = async (which: 'checked' | 'unchecked', n: number) => {
      const before = await transactions();
      for (let i = 0; i < n; i++) await refresh(which);
      const after = await transactions();
      assert.equal(after.count - before.count, n);
      return (after.sum - before.sum) / n;
    };
    // Measured again (support/timing.ts `fewest`) when a background read lands in a measured
    // refresh on a loaded machine; kept is the measurement whose larger figure is fewest.
    let best = { withCheck: Number.POSITIVE_INFINITY, without: Number.POSITIVE_INFINITY };
    const larger = (m: typeof best) => Math.max(m.withCheck, m.without);
    await fewest(3, async () => {
      const asked = introspections();
      const withCheck = await perRefresh('checked', 5);
      assert.equal(introspections() - asked, 5, 'one upstream request per checked refresh');
      const measured = { withCheck, without: await perRefresh('unchecked', 5) };
      if (larger(measured) < larger(best)) best = measured;
      return larger(best);
    });
    const { withCheck, without } = best;
    ctx.diagnostic(`transactions per refresh: checked ${withCheck}, unchecked ${without}`);
    // A password session's refresh runs at most two (database-round-trips.test.ts).
    assert.ok(withCheck <= 3 && without <= 3, `checked ${withCheck}, unchecked ${without}`);
    // Time, for the report only (noisy on a shared machine): per-round ratios of interleaved rounds.
    const ratios: number[] = [];
    for (let round = 0; round < 15; round++) {
      const a = await refresh('checked');
      const b = await refresh('unchecked');
      ratios.push(a / b);
    }
    ratios.sort((x, y) => x - y);
    ctx.diagnostic(`checked/unchecked refresh time, 15 interleaved rounds: median ${ratios[7]!.toFixed(2)}, range ${ratios[0]!.toFixed(2)}-${ratios[14]!.toFixed(2)}`);
  });
});

describe('introspection verdicts besides active and inactive', () => {
  /** Points connection `checked` elsewhere for `fn`, then back at the bare provider. */
  async function withChecked(extra: Record<string, unknown>, fn: () => Promise<void>): Promise<void> {
    assert.equal((await put('acme', 'checked', connection({ display_name: 'checked', introspection_endpoint: introspectionUrl, ...extra }))).status, 200);
    try {
      await fn();
    } finally {
      assert.equal((await put('acme', 'checked', connection({ display_name: 'checked', introspection_endpoint: introspectionUrl }))).status, 200);
    }
  }

  it("our own client credentials refused at the introspection endpoint (invalid_client) are a misconfiguration, not the upstream's word on the user: 503, the session kept", async () => {
    const fay = await signIn('checked', 'fay');
    await withChecked({ client_secret: 'not-the-secret-the-upstream-knows' }, async () => {
      const res = await rawRefresh(fay.tokens.refresh_token!);
      assert.equal(res.status, 503, JSON.stringify(res.body));
      assert.notEqual(await silent(fay.browser), 'login_required');
    });
    assert.ok((await oidc.refreshTokenGrant(fay.request.config, fay.tokens.refresh_token!)).access_token, 'the same refresh token works again');
  });

  it('an upstream that refuses the token itself (400 invalid_token) is a "no": invalid_grant, the session ends', async () => {
    // An introspection endpoint answering as RFC 6750 says an upstream may for a token it will not discuss.
    const refusing = http.createServer((req, res) => {
      req.resume();
      res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'invalid_token', error_description: 'token revoked' }));
    });
    await new Promise<void>((resolve) => refusing.listen(0, '127.0.0.1', resolve));
    try {
      const gus = await signIn('checked', 'gus');
      await withChecked({ introspection_endpoint: `http://127.0.0.1:${(refusing.address() as AddressInfo).port}/introspect` }, async () => {
        await assert.rejects(oidc.refreshTokenGrant(gus.request.config, gus.tokens.refresh_token!), (err: oidc.ResponseBodyError) => err.error === 'invalid_grant');
      });
      assert.equal(await silent(gus.browser), 'login_required');
      assert.equal((await refusals()).find((e) => e.target === gus.userId)?.details.reason, 'upstream_refused:invalid_token');
    } finally {
      refusing.closeAllConnections();
      await new Promise((resolve) => refusing.close(resolve));
    }
  });

  it('introspection switched on after the sign-in: that session cannot be checked, so its next refresh is invalid_grant', async () => {
    const hal = await signIn('unchecked', 'hal');
    assert.equal((await put('acme', 'unchecked', connection({ display_name: 'unchecked', introspection_endpoint: introspectionUrl }))).status, 200);
    try {
      await assert.rejects(oidc.refreshTokenGrant(hal.request.config, hal.tokens.refresh_token!), (err: oidc.ResponseBodyError) => err.error === 'invalid_grant');
      assert.equal((await refusals()).find((e) => e.target === hal.userId)?.details.reason, 'no_upstream_token');
    } finally {
      assert.equal((await put('acme', 'unchecked', connection({ display_name: 'unchecked' }))).status, 200);
    }
  });

  it('a refresh token whose upstream sign-in is no longer on record, of a user linked to an introspecting connection, is refused rather than let through', async () => {
    const ida = await signIn('checked', 'ida');
    await asTenant(t, 'acme', (q) => q.query('DELETE FROM federated_sessions WHERE user_id = $1', [ida.userId]));
    await assert.rejects(oidc.refreshTokenGrant(ida.request.config, ida.tokens.refresh_token!), (err: oidc.ResponseBodyError) => err.error === 'invalid_grant');
    assert.equal((await refusals()).find((e) => e.target === ida.userId)?.details.reason, 'upstream_sign_in_unknown');
  });
});

describe('storage failing while an inactive upstream ends the session', () => {
  it('is a 503, not a 500; the retry is refused again and ends the session', async () => {
    const kim = await signIn('checked', 'kim');
    await plain.revokeGrants('sub-kim');
    // The database refuses to delete the user's session records (as it would when it crashes mid-request).
    await t.atrium.services.db.driver.exec(`
      CREATE FUNCTION test_fail_session_end() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER AS $$
      BEGIN RAISE EXCEPTION 'injected storage failure' USING ERRCODE = '57P01'; END $$;
      CREATE TRIGGER test_fail_session_end BEFORE DELETE ON user_sessions FOR EACH ROW EXECUTE FUNCTION test_fail_session_end();`);
    try {
      const res = await rawRefresh(kim.tokens.refresh_token!);
      assert.equal(res.status, 503, JSON.stringify(res.body));
      assert.ok(res.body.correlation_id);
    } finally {
      await t.atrium.services.db.driver.exec('DROP TRIGGER test_fail_session_end ON user_sessions; DROP FUNCTION test_fail_session_end();');
    }
    assert.notEqual(await silent(kim.browser), 'login_required', 'nothing was half-done: the session is still there');
    await assert.rejects(oidc.refreshTokenGrant(kim.request.config, kim.tokens.refresh_token!), (err: oidc.ResponseBodyError) => err.error === 'invalid_grant');
    assert.equal(await silent(kim.browser), 'login_required', 'the retry ended it');
  });
});

describe('the introspection_endpoint field', () => {
  it('is shown in the connection JSON, and null when unset', async () => {
    assert.equal((await t.api('GET', '/tenants/acme/federation/checked')).body.introspection_endpoint, introspectionUrl);
    const list = (await t.api('GET', '/tenants/acme/federation')).body.connections as { name: string; introspection_endpoint: string | null }[];
    assert.equal(list.find((c) => c.name === 'unchecked')?.introspection_endpoint, null);
  });

  it('refuses bad input with a 400 naming it', async () => {
    for (const bad of ['not a url', 'http://idp.example.com/introspect', 'ftp://idp.example.com/introspect', 'https://idp.example.com/introspect#x', 42, `https://idp.example.com/${'a'.repeat(2100)}`]) {
      const res = await put('acme', 'badinput', connection({ introspection_endpoint: bad }));
      assert.equal(res.status, 400, `${String(bad).slice(0, 60)}: ${JSON.stringify(res.body)}`);
      assert.match(res.body.error_description, /introspection_endpoint/);
      assert.ok(res.body.correlation_id);
    }
    assert.equal((await t.api('GET', '/tenants/acme/federation/badinput')).status, 404, 'nothing stored');
  });

  it("is the tenant's own: another tenant can neither see nor set it", async () => {
    const client = await t.api('POST', '/tenants/globex/clients', { grant_types: ['client_credentials'], response_types: [], redirect_uris: [], scope: 'atrium:tenant:read atrium:tenant:write' });
    assert.equal(client.status, 201, JSON.stringify(client.body));
    const config = await discover(globex.issuer, client.body.client_id, client.body.client_secret);
    const token = (await oidc.clientCredentialsGrant(config, { scope: 'atrium:tenant:read atrium:tenant:write' })).access_token;
    assert.equal((await t.api('GET', '/tenants/acme/federation/checked', undefined, token)).status, 404);
    assert.equal((await put('acme', 'checked', connection({ introspection_endpoint: 'https://evil.example.test/introspect' }), token)).status, 404);
    assert.equal((await t.api('GET', '/tenants/globex/federation/checked', undefined, token)).status, 404, "through its own path, acme's connection does not exist");
    assert.equal((await t.api('GET', '/tenants/acme/federation/checked')).body.introspection_endpoint, introspectionUrl, 'unchanged');
  });
});
