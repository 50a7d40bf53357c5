/** Sign-in, failed sign-in, sign-out and admin changes leave audit events, per tenant only. */
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import * as oidc from 'openid-client';
import { startTestAtrium, type TestAtrium } from './support/atrium.ts';
import { createTenantFixture, discover, REDIRECT_URI, SignInRefused, signInThroughPages, type TenantFixture } from './support/fixtures.ts';
import { hiddenInput } from './support/http-client.ts';
import { runAsTenant } from '../src/core/request-context.ts';

let t: TestAtrium;
let acme: TenantFixture;
before(async () => {
  t = await startTestAtrium();
  acme = await createTenantFixture(t, 'acme');
  await createTenantFixture(t, 'globex');
});
after(() => t?.stop());

async function auditOf(slug: string) {
  const tenant = (await t.atrium.services.tenantStore.findBySlug(slug))!;
  return runAsTenant(tenant.id, () =>
    t.atrium.services.db.withTenant(async (q) => (await q.query<{ action: string; outcome: string; actor: string | null; target: string | null; correlation_id: string | null; ip: string | null }>('SELECT action, outcome, actor, target, correlation_id, ip FROM audit_events ORDER BY at')).rows),
  );
}

it('records sign-in, failed sign-in, sign-out and admin changes in the tenant where they happened', async () => {
  const config = await discover(acme.issuer, acme.clientId, acme.clientSecret);
  const url = () => oidc.buildAuthorizationUrl(config, { redirect_uri: REDIRECT_URI, scope: 'openid', code_challenge: 'a'.repeat(43), code_challenge_method: 'S256' });
  await assert.rejects(signInThroughPages(url(), { email: acme.email, password: 'wrong-password-here' }), SignInRefused);
  const { browser } = await signInThroughPages(url(), acme);
  const page = await browser.request(`${acme.issuer}/session/end`);
  const html = await page.text();
  const done = await browser.postForm(new URL(/action="([^"]+)"/.exec(html)![1]!, acme.issuer), { xsrf: hiddenInput(html, 'xsrf'), logout: 'yes' });
  assert.equal(done.status, 303);

  // Sign-out is recorded from oidc-provider's event, just after the response: wait for it briefly.
  let events = await auditOf('acme');
  for (let i = 0; i < 40 && !events.some((e) => e.action === 'user.sign_out'); i++) {
    await new Promise((r) => setTimeout(r, 50));
    events = await auditOf('acme');
  }
  const actions = events.map((e) => `${e.action}:${e.outcome}`);
  for (const expected of ['client.created:success', 'user.created:success', 'user.sign_in:failure', 'user.sign_in:success', 'user.sign_out:success']) {
    assert.ok(actions.includes(expected), `missing ${expected} in ${actions.join(', ')}`);
  }
  const signIn = events.find((e) => e.action === 'user.sign_in' && e.outcome === 'success')!;
  assert.equal(signIn.actor, acme.userId);
  assert.ok(signIn.correlation_id && signIn.ip);
  const failure = events.find((e) => e.action === 'user.sign_in' && e.outcome === 'failure')!;
  assert.equal(failure.target, acme.email);

  const globexEvents = await auditOf('globex');
  assert.ok(!globexEvents.some((e) => e.actor === acme.userId || e.target === acme.email), "acme's events never show in globex");
});
