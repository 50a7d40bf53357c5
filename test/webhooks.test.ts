/**
 * Webhooks (Standard Webhooks) through the management API, delivered to a local receiver
 * that verifies every signature with the reference library: events by type, isolation
 * between tenants, the platform's tenant lifecycle, retries while the receiver is down (same
 * webhook-id), failed deliveries and their replay, a rolled-back change sending nothing, bad
 * input, and delivery figures. Two instances and a crash: webhooks-multi-instance.test.ts.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as oidc from 'openid-client';
import { startTestAtrium, type TestAtrium } from './support/atrium.ts';
import { createTenantFixture, discover, type TenantFixture } from './support/fixtures.ts';
import { assertApiError } from './support/api-assertions.ts';
import { startWebhookReceiver, type WebhookReceiver } from './support/webhook-receiver.ts';
import { runAsTenant } from '../src/core/request-context.ts';

let t: TestAtrium;
let rx: WebhookReceiver;
let acme: TenantFixture;
let globex: TenantFixture;

async function subscribe(slug: string, path: string, eventTypes: string[], base = `/tenants/${slug}/webhooks`): Promise<{ id: string; secret: string }> {
  const res = await t.api('POST', base, { url: rx.url(path), event_types: eventTypes, description: path });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  rx.expect(path, res.body.secret);
  return { id: res.body.id, secret: res.body.secret };
}

const ofPath = (path: string) => rx.received.filter((r) => r.path === path);

async function tenantToken(fixture: TenantFixture, scope: string): Promise<string> {
  const client = await t.api('POST', `/tenants/${fixture.slug}/clients`, { grant_types: ['client_credentials'], response_types: [], redirect_uris: [], scope });
  assert.equal(client.status, 201, JSON.stringify(client.body));
  const config = await discover(fixture.issuer, client.body.client_id, client.body.client_secret);
  return (await oidc.clientCredentialsGrant(config, { scope })).access_token;
}

before(async () => {
  // Retries come quickly and give up after three attempts, so the test sees both.
  t = await startTestAtrium({ WEBHOOK_RETRY_BASE_MS: '200', WEBHOOK_MAX_ATTEMPTS: '3', WEBHOOK_POLL_INTERVAL_MS: '100' });
  rx = await startWebhookReceiver();
  acme = await createTenantFixture(t, 'acme');
  globex = await createTenantFixture(t, 'globex');
});
after(async () => {
  await rx?.close();
  await t?.stop();
});

describe('webhooks', () => {
  it('delivers a subscribed event, signed (verified by standardwebhooks), with the secret shown once and never carried', async () => {
    const sub = await subscribe('acme', '/acme-users', ['user.created', 'user.updated', 'user.deleted']);
    assert.match(sub.secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
    const listed = await t.api('GET', '/tenants/acme/webhooks');
    assert.equal(listed.status, 200);
    assert.deepEqual(listed.body.webhooks.map((w: { id: string }) => w.id), [sub.id]);
    const one = await t.api('GET', `/tenants/acme/webhooks/${sub.id}`);
    assert.ok(!JSON.stringify(listed.body).includes(sub.secret.slice(6)) && !JSON.stringify(one.body).includes(sub.secret.slice(6)), 'the secret is never returned again');

    const created = await t.api('POST', '/tenants/acme/users', { email: 'hook@acme.test', password: 'a-long-enough-password-1', name: 'Hooked' });
    assert.equal(created.status, 201);
    await rx.waitFor('user.created', () => ofPath('/acme-users').some((r) => r.payload.data.subject === created.body.id));
    const got = ofPath('/acme-users').find((r) => r.payload.data.subject === created.body.id)!;
    assert.equal(got.payload.type, 'user.created');
    assert.equal(got.payload.data.tenant_id, (await t.api('GET', '/tenants/acme')).body.id);
    assert.equal(got.payload.data.email, 'hook@acme.test');
    assert.match(got.id, /^msg_[0-9a-f]{32}$/);
    for (const secret of [sub.secret, sub.secret.slice(6), 'a-long-enough-password-1', acme.clientSecret]) assert.ok(!got.body.includes(secret), 'no secret in a delivery');

    await t.api('PATCH', `/tenants/acme/users/${created.body.id}`, { name: 'Renamed' });
    await t.api('DELETE', `/tenants/acme/users/${created.body.id}`);
    await rx.waitFor('updated and deleted', () => ['user.updated', 'user.deleted'].every((type) => ofPath('/acme-users').some((r) => r.payload.type === type && r.payload.data.subject === created.body.id)));
    const delivered = await t.api('GET', `/tenants/acme/webhooks/${sub.id}?status=delivered`);
    assert.ok(delivered.body.deliveries.some((d: { id: string }) => d.id === got.id), 'the delivery is listed under its webhook-id');
    assert.deepEqual(rx.rejected, []);
  });

  it("a tenant's subscription gets only its own tenant's events, and another tenant cannot reach it", async () => {
    const sub = await subscribe('acme', '/acme-only', ['user.created']);
    await t.api('POST', '/tenants/globex/users', { email: 'other@globex.test' });
    const mine = await t.api('POST', '/tenants/acme/users', { email: 'mine@acme.test' });
    await rx.waitFor('acme user', () => ofPath('/acme-only').some((r) => r.payload.data.subject === mine.body.id));
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(ofPath('/acme-only').every((r) => r.payload.data.email !== 'other@globex.test'), "globex's event never reaches acme's subscription");

    const globexToken = await tenantToken(globex, 'atrium:tenant:read atrium:tenant:write');
    for (const [method, path, body] of [
      ['GET', '/tenants/acme/webhooks'],
      ['GET', `/tenants/acme/webhooks/${sub.id}`],
      ['PATCH', `/tenants/acme/webhooks/${sub.id}`, { description: 'mine now' }],
      ['DELETE', `/tenants/acme/webhooks/${sub.id}`],
      ['POST', '/tenants/acme/webhooks', { url: rx.url('/x'), event_types: ['user.created'] }],
      ['GET', '/tenants/acme/webhooks/deliveries'],
    ] as const) {
      assert.equal((await t.api(method, path, body, globexToken)).status, 404, `${method} ${path}`);
    }
    // Through its own path, globex sees only its own (none of acme's).
    const own = await t.api('GET', '/tenants/globex/webhooks', undefined, globexToken);
    assert.equal(own.status, 200);
    assert.ok(own.body.webhooks.every((w: { id: string }) => w.id !== sub.id));
    assert.equal((await t.api('GET', `/tenants/globex/webhooks/${sub.id}`, undefined, globexToken)).status, 404);
    assert.equal((await t.api('GET', '/platform/webhooks', undefined, globexToken)).status, 403);
    // The platform's own path is the platform tenant's: a tenant's subscription is not there.
    for (const method of ['GET', 'PATCH', 'DELETE'] as const) {
      assertApiError(await t.api(method, `/platform/webhooks/${sub.id}`, method === 'PATCH' ? { description: 'platform now' } : undefined), 404, 'not_found');
    }
    assert.equal((await t.api('GET', `/tenants/acme/webhooks/${sub.id}`)).status, 200, 'still there');
  });

  it('sign-in events: a failed and a successful password sign-in', async () => {
    await subscribe('acme', '/acme-sign-in', ['sign_in.succeeded', 'sign_in.failed']);
    const { signInThroughPages, authorizationRequest, SignInRefused } = await import('./support/fixtures.ts');
    const request = await authorizationRequest(acme.issuer, { clientId: acme.clientId, clientSecret: acme.clientSecret });
    await assert.rejects(signInThroughPages(request.url, { email: acme.email, password: 'wrong-password' }), SignInRefused);
    const again = await authorizationRequest(acme.issuer, { clientId: acme.clientId, clientSecret: acme.clientSecret });
    await signInThroughPages(again.url, { email: acme.email, password: acme.password });
    await rx.waitFor('both sign-in events', () => ['sign_in.failed', 'sign_in.succeeded'].every((type) => ofPath('/acme-sign-in').some((r) => r.payload.type === type)));
    assert.equal(ofPath('/acme-sign-in').find((r) => r.payload.type === 'sign_in.succeeded')!.payload.data.subject, acme.userId);
  });

  it('retries while the receiver is down and delivers with the same webhook-id when it is back', async () => {
    const sub = await subscribe('acme', '/acme-retry', ['user.created']);
    await rx.down();
    const created = await t.api('POST', '/tenants/acme/users', { email: 'retry@acme.test' });
    let pending: { id: string; attempts: number; last_error: string } | undefined;
    for (let i = 0; i < 250 && !pending; i++) {
      pending = (await t.api('GET', `/tenants/acme/webhooks/${sub.id}?status=pending`)).body.deliveries.find((d: { attempts: number; last_error: string | null }) => d.attempts >= 1 && d.last_error);
      if (!pending) await new Promise((r) => setTimeout(r, 20));
    }
    await rx.up();
    assert.ok(pending, 'an attempt was made and failed');
    assert.equal(pending.last_error, 'the receiver could not be reached');
    await rx.waitFor('the retried delivery', () => ofPath('/acme-retry').some((r) => r.payload.data.subject === created.body.id));
    const got = ofPath('/acme-retry').filter((r) => r.payload.data.subject === created.body.id);
    assert.deepEqual([...new Set(got.map((r) => r.id))], [pending.id], 'the webhook-id of the failed attempt');
  });

  it('after the last attempt a delivery is failed, listed, and a replay delivers it (same webhook-id)', async () => {
    const sub = await subscribe('acme', '/acme-fails', ['user.deleted']);
    rx.expect('/acme-fails', 'whsec_' + Buffer.alloc(32).toString('base64')); // wrong secret: the receiver answers 400
    const user = await t.api('POST', '/tenants/acme/users', { email: 'gone@acme.test' });
    await t.api('DELETE', `/tenants/acme/users/${user.body.id}`);
    let failed: { id: string; attempts: number; last_error: string } | undefined;
    for (let i = 0; i < 300 && !failed; i++) {
      failed = (await t.api('GET', '/tenants/acme/webhooks/deliveries?status=failed')).body.deliveries.find((d: { webhook_id: string }) => d.webhook_id === sub.id);
      if (!failed) await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(failed, 'the delivery ends failed');
    assert.equal(failed.attempts, 3, 'WEBHOOK_MAX_ATTEMPTS');
    assert.equal(failed.last_error, 'the receiver answered 400');
    rx.expect('/acme-fails', sub.secret);
    const globexToken = await tenantToken(globex, 'atrium:tenant:read atrium:tenant:write');
    assert.equal((await t.api('POST', `/tenants/acme/webhooks/deliveries/${failed.id}/replay`, undefined, globexToken)).status, 404, "globex cannot replay acme's delivery");
    assertApiError(await t.api('POST', `/tenants/globex/webhooks/deliveries/${failed.id}/replay`, undefined, globexToken), 404, 'not_found');
    assertApiError(await t.api('POST', `/platform/webhooks/deliveries/${failed.id}/replay`), 404, 'not_found');
    const still = (await t.api('GET', '/tenants/acme/webhooks/deliveries?status=failed')).body.deliveries;
    assert.ok(still.some((d: { id: string }) => d.id === failed.id), 'still failed after the refused replays');
    const replay = await t.api('POST', `/tenants/acme/webhooks/deliveries/${failed.id}/replay`);
    assert.equal(replay.status, 202);
    await rx.waitFor('the replayed delivery', () => ofPath('/acme-fails').some((r) => r.id === failed.id));
    assertApiError(await t.api('POST', `/tenants/acme/webhooks/deliveries/${failed.id}/replay`), 404, 'not_found');
    const audit = await t.api('GET', '/tenants/acme/audit?action=webhook.delivery_replayed');
    assert.ok(JSON.stringify(audit.body).includes(failed.id), 'the replay is audited');
  });

  it('a subscription switched off (enabled: false) gets no new events until switched on', async () => {
    const sub = await subscribe('acme', '/acme-switch', ['user.created']);
    const off = await t.api('PATCH', `/tenants/acme/webhooks/${sub.id}`, { enabled: false });
    assert.equal(off.status, 200);
    assert.equal(off.body.enabled, false);
    const quiet = await t.api('POST', '/tenants/acme/users', { email: 'switched-off@acme.test' });
    assert.deepEqual((await t.api('GET', `/tenants/acme/webhooks/${sub.id}`)).body.deliveries, [], 'no outbox row while off');
    assert.equal((await t.api('PATCH', `/tenants/acme/webhooks/${sub.id}`, { enabled: true })).body.enabled, true);
    const loud = await t.api('POST', '/tenants/acme/users', { email: 'switched-on@acme.test' });
    await rx.waitFor('the event after switching on', () => ofPath('/acme-switch').some((r) => r.payload.data.subject === loud.body.id));
    assert.ok(ofPath('/acme-switch').every((r) => r.payload.data.subject !== quiet.body.id));
    assertApiError(await t.api('PATCH', `/tenants/acme/webhooks/${sub.id}`, { enabled: 'no' }), 400, undefined, /enabled/);
  });

  it('a change that rolls back sends nothing', async () => {
    await subscribe('acme', '/acme-rollback', ['user.created']);
    const { userService, tenantStore } = t.atrium.services;
    const tenant = (await tenantStore.findBySlug('acme'))!;
    const boom = new Error('rolled back after the change');
    await assert.rejects(
      runAsTenant(tenant.id, () =>
        t.atrium.services.audit.together(async () => {
          await userService.create(tenant, { email: 'never@acme.test' });
          throw boom;
        }),
      ),
      boom,
    );
    const committed = await t.api('POST', '/tenants/acme/users', { email: 'after@acme.test' });
    await rx.waitFor('the later, committed change', () => ofPath('/acme-rollback').some((r) => r.payload.data.subject === committed.body.id));
    assert.ok(ofPath('/acme-rollback').every((r) => r.payload.data.email !== 'never@acme.test'), 'nothing for the rolled-back user');
    assert.equal((await t.api('GET', '/tenants/acme/users?search=never@acme.test')).body.total, 0);
  });

  it('a client change, an MFA change or a session ending that rolls back sends nothing (each writes its outbox rows in its own transaction)', async () => {
    const { clientService, mfa, userSessions, tenantStore, audit } = t.atrium.services;
    const tenant = (await tenantStore.findBySlug('acme'))!;
    const service = { grant_types: ['client_credentials'], response_types: [], redirect_uris: [] };
    // Made before the subscription (no event for it): the rolled-back change deletes it.
    assert.equal((await t.api('POST', '/tenants/acme/clients', { ...service, client_id: 'rollback-target' })).status, 201);
    const sub = await subscribe('acme', '/acme-rollback-kinds', ['client.changed', 'mfa.changed', 'session.ended']);
    const boom = new Error('rolled back after the change');
    const rolledBack = (change: () => Promise<unknown>) =>
      assert.rejects(
        runAsTenant(tenant.id, () =>
          audit.together(async () => {
            await change();
            throw boom;
          }),
        ),
        boom,
      );
    await rolledBack(() => clientService.delete(tenant, 'rollback-target'));
    await rolledBack(() => mfa.regenerateRecoveryCodes(tenant, acme.userId));
    await rolledBack(() => userSessions.revokeAllSessions(acme.userId));
    assert.equal((await t.api('GET', '/tenants/acme/clients/rollback-target')).status, 200, 'the client deletion rolled back');
    const outbox = async () => (await t.api('GET', `/tenants/acme/webhooks/${sub.id}`)).body.deliveries as { event_type: string }[];
    assert.deepEqual(await outbox(), [], 'no outbox row for any of the rolled-back changes');

    // The same changes committed: one event each, and only those.
    await runAsTenant(tenant.id, async () => {
      await clientService.delete(tenant, 'rollback-target');
      await mfa.regenerateRecoveryCodes(tenant, acme.userId);
      await userSessions.revokeAllSessions(acme.userId);
    });
    await rx.waitFor('the three committed changes', () => ofPath('/acme-rollback-kinds').length >= 3);
    assert.deepEqual(ofPath('/acme-rollback-kinds').map((r) => [r.payload.type, r.payload.data.action, r.payload.data.subject]).sort(), [
      ['client.changed', 'client.deleted', 'rollback-target'],
      ['mfa.changed', 'user.mfa.recovery_codes_regenerated', acme.userId],
      ['session.ended', 'user.sessions_revoked', acme.userId],
    ]);
    assert.equal((await outbox()).length, 3);
  });

  it('an audit event that cannot be written fails the change it was recorded with (no silent rollback)', async () => {
    await subscribe('acme', '/acme-audit-fails', ['user.created']);
    const { userService, tenantStore, audit } = t.atrium.services;
    const tenant = (await tenantStore.findBySlug('acme'))!;
    // jsonb refuses \u0000: the audit insert fails inside the change's transaction and aborts it.
    await assert.rejects(
      runAsTenant(tenant.id, () =>
        audit.together(async () => {
          await userService.create(tenant, { email: 'unaudited@acme.test' });
          await audit.record({ action: 'probe.unstorable', details: { note: 'nul \u0000 here' } });
        }),
      ),
    );
    assert.equal((await t.api('GET', '/tenants/acme/users?search=unaudited@acme.test')).body.total, 0);
    const committed = await t.api('POST', '/tenants/acme/users', { email: 'audited@acme.test' });
    await rx.waitFor('the later, committed change', () => ofPath('/acme-audit-fails').some((r) => r.payload.data.subject === committed.body.id));
    assert.ok(ofPath('/acme-audit-fails').every((r) => r.payload.data.email !== 'unaudited@acme.test'), 'nothing for the rolled-back user');
  });

  it('platform webhooks: tenant lifecycle events, platform tokens only', async () => {
    await subscribe('', '/platform', ['tenant.created', 'tenant.updated', 'tenant.deleted'], '/platform/webhooks');
    assert.equal((await t.api('POST', '/tenants', { slug: 'initech', name: 'Initech' })).status, 201);
    assert.equal((await t.api('PATCH', '/tenants/initech', { name: 'Initech Ltd' })).status, 200);
    assert.equal((await t.api('DELETE', '/tenants/initech')).status, 204);
    await rx.waitFor('three lifecycle events', () => ofPath('/platform').length >= 3);
    assert.deepEqual(ofPath('/platform').map((r) => [r.payload.type, r.payload.data.slug]), [['tenant.created', 'initech'], ['tenant.updated', 'initech'], ['tenant.deleted', 'initech']]);
    assertApiError(await t.api('POST', '/platform/webhooks', { url: rx.url('/p'), event_types: ['user.created'] }), 400, 'invalid_webhook', /user\.created/);
  });

  it('bad input is a 400 naming the problem', async () => {
    const bad = (body: unknown) => t.api('POST', '/tenants/acme/webhooks', body);
    assertApiError(await bad({ url: rx.url('/b'), event_types: ['user.created', 'user.exploded', 'tenant.created'] }), 400, 'invalid_webhook', /user\.exploded, tenant\.created/);
    assertApiError(await bad({ url: 'ftp://example.test/hook', event_types: ['user.created'] }), 400, 'invalid_webhook', /url/);
    assertApiError(await bad({ url: 'not a url', event_types: ['user.created'] }), 400, 'invalid_webhook', /url/);
    assertApiError(await bad({ url: 'https://user:pw@example.test/hook', event_types: ['user.created'] }), 400, 'invalid_webhook', /credentials/);
    assertApiError(await bad({ url: rx.url('/b'), event_types: [] }), 400, undefined, /event_types/);
    assertApiError(await bad({ url: rx.url('/b'), event_types: ['user.created'], secret: 'whsec_mine' }), 400, undefined, /secret/);
    assertApiError(await t.api('GET', '/tenants/acme/webhooks/not-a-uuid'), 404, 'not_found');
    assertApiError(await t.api('GET', '/tenants/acme/webhooks/deliveries?status=lost'), 400, undefined, /status/);
    assertApiError(await bad('{"url": '), 400);
    assertApiError(await bad({ url: 5, event_types: 'user.created' }), 400, undefined, /url|event_types/);
    assertApiError(await bad({ url: `https://example.test/${'a'.repeat(5000)}`, event_types: ['user.created'] }), 400, undefined, /url/);
    assertApiError(await bad({ url: rx.url('/b'), event_types: ['user.created'], description: 'nul \u0000 here' }), 400);
    assertApiError(await t.api('GET', '/tenants/acme/webhooks/deliveries?limit=100000000000'), 400, undefined, /limit/);
    assertApiError(await t.api('GET', '/tenants/acme/webhooks/deliveries?limit=many'), 400, undefined, /limit/);
    const unknown = '00000000-0000-4000-8000-000000000000';
    assertApiError(await t.api('GET', `/tenants/acme/webhooks/${unknown}`), 404, 'not_found');
    assertApiError(await t.api('PATCH', `/tenants/acme/webhooks/${unknown}`, { description: 'x' }), 404, 'not_found');
    assertApiError(await t.api('DELETE', `/tenants/acme/webhooks/${unknown}`), 404, 'not_found');
    assertApiError(await t.api('POST', `/tenants/acme/webhooks/deliveries/msg_${'0'.repeat(32)}/replay`), 404, 'not_found');
    assertApiError(await t.api('POST', '/tenants/acme/webhooks/deliveries/not-a-message/replay'), 404, 'not_found');
    assertApiError(await t.api('PATCH', `/tenants/acme/webhooks/${unknown}`, '[1, 2'), 400);
    assertApiError(await t.api('PATCH', `/tenants/acme/webhooks/${unknown}`, { event_types: 'user.created' }), 400, undefined, /event_types/);
  });
});
