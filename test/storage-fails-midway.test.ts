/**
 * Storage failing part-way through a request: the answer is a 503 with a correlation id,
 * and nothing is left half-done.
 *
 * A token grant either happens whole or not at all. When storage fails part-way through
 * (here: the database refuses to insert the new refresh token, as it would when it crashes
 * mid-request), the client gets a 503 and may simply retry with the same code or refresh
 * token. Before, the old code or token was already marked used, so the retry was taken for
 * a replay: `invalid_grant`, and the whole grant revoked, for an outage of ours.
 *
 * The failure is injected with a trigger in the test's own database, so it works the same
 * against PostgreSQL and the embedded database.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as oidc from 'openid-client';
import { startTestAtrium, type TestAtrium } from './support/atrium.ts';
import { authorizationRequest, createTenantFixture, REDIRECT_URI, signInThroughPages, type TenantFixture } from './support/fixtures.ts';

describe('storage failing part-way through a request: a 503 with a correlation id, nothing half-done', () => {
  let t: TestAtrium;
  let acme: TenantFixture;
  const failStoring = (model: string | null) => t.atrium.services.db.driver.exec(model ? `INSERT INTO test_fault_switch VALUES ('${model}')` : 'DELETE FROM test_fault_switch');

  before(async () => {
    t = await startTestAtrium();
    acme = await createTenantFixture(t, 'acme');
    await t.atrium.services.db.driver.exec(`
      CREATE TABLE test_fault_switch (model text PRIMARY KEY);
      CREATE FUNCTION test_fail_payload_write() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER AS $$
      BEGIN
        IF EXISTS (SELECT 1 FROM test_fault_switch WHERE model = NEW.model) THEN
          RAISE EXCEPTION 'injected storage failure' USING ERRCODE = '57P01';
        END IF;
        RETURN NEW;
      END $$;
      CREATE TRIGGER test_fail_payload_write BEFORE INSERT ON oidc_payloads
        FOR EACH ROW EXECUTE FUNCTION test_fail_payload_write();`);
  });
  after(async () => {
    await t?.stop();
  });

  async function codeCallback() {
    const request = await authorizationRequest(acme.issuer, acme, { scope: 'openid offline_access', prompt: 'consent' });
    const { callback } = await signInThroughPages(request.url, acme);
    return { request, callback };
  }
  const redeem = (r: Awaited<ReturnType<typeof codeCallback>>) =>
    oidc.authorizationCodeGrant(r.request.config, r.callback, { pkceCodeVerifier: r.request.verifier, expectedState: r.request.state, expectedNonce: r.request.nonce });
  // openid-client gives a 5xx answer as a ClientError whose cause is the Response.
  const assertUnavailable = async (attempt: Promise<unknown>) => {
    const err = await attempt.then(() => assert.fail('the grant succeeded although storage failed'), (e: unknown) => e);
    const res = (err as { cause?: Response }).cause;
    assert.equal(res?.status, 503);
    const body = (await res.json()) as { error: string; correlation_id?: string };
    assert.equal(body.error, 'temporarily_unavailable');
    assert.equal(body.correlation_id, res.headers.get('x-correlation-id'));
  };

  it('the code exchange answers 503 and the same code redeems once storage is back', async () => {
    const flow = await codeCallback();
    await failStoring('RefreshToken');
    try {
      await assertUnavailable(redeem(flow));
    } finally {
      await failStoring(null);
    }
    const tokens = await redeem(flow);
    assert.ok(tokens.refresh_token && tokens.access_token);
    // Spent now: a second redemption is a replay.
    await assert.rejects(redeem(flow), (err: oidc.ResponseBodyError) => err.error === 'invalid_grant');
  });

  it('a refresh answers 503 and the same refresh token works once storage is back; replay detection still holds', async () => {
    const flow = await codeCallback();
    const first = (await redeem(flow)).refresh_token!;
    await failStoring('RefreshToken');
    try {
      await assertUnavailable(oidc.refreshTokenGrant(flow.request.config, first));
    } finally {
      await failStoring(null);
    }
    const second = await oidc.refreshTokenGrant(flow.request.config, first);
    assert.ok(second.refresh_token && second.refresh_token !== first);
    const third = await oidc.refreshTokenGrant(flow.request.config, second.refresh_token);
    assert.ok(third.refresh_token);
    await assert.rejects(oidc.refreshTokenGrant(flow.request.config, first), (err: oidc.ResponseBodyError) => err.error === 'invalid_grant');
  });

  it('a sign-in session that cannot be saved at the end of /auth is a 503 with a correlation id and the security headers', async () => {
    // oidc-provider saves the session after its own error handling (ensureSessionSave), so a
    // failure there used to reach Koa's last-resort handler, which clears every header.
    const { browser } = await signInThroughPages((await authorizationRequest(acme.issuer, acme)).url, acme);
    const again = await authorizationRequest(acme.issuer, acme);
    await failStoring('Session');
    let res: Response;
    try {
      res = await browser.request(again.url, { headers: { accept: 'text/html' } });
    } finally {
      await failStoring(null);
    }
    const body = await res.text();
    assert.equal(res.status, 503, `${res.headers.get('location')} ${body.slice(0, 300)}`);
    const correlationId = res.headers.get('x-correlation-id');
    assert.match(correlationId ?? '', /^[0-9a-f-]{36}$/);
    assert.ok(body.includes(correlationId!), 'the page shows the correlation id');
    assert.equal(res.headers.get('x-frame-options'), 'DENY');
    assert.ok(res.headers.get('content-security-policy'));
    // And the same browser signs in silently once storage is back.
    const after = await browser.request(again.url);
    assert.equal(after.status, 303);
    assert.ok(after.headers.get('location')!.startsWith(REDIRECT_URI));
  });
});
