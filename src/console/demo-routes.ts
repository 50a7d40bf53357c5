/**
 * A built-in relying party for demo mode only: `/demo` on a tenant's host runs a real
 * authorization code + PKCE flow against the tenant's own Provider and shows the verified
 * ID token, so a newcomer can try sign-in with nothing but a browser.
 */
import http from 'node:http';
import { createHash, randomBytes } from 'node:crypto';
import Router from '@koa/router';
import type { Context } from 'koa';
import { createLocalJWKSet, jwtVerify } from 'jose';
import type { AtriumConfig } from '../config/env.ts';
import type { SigningKeyStore } from '../oidc/signing-keys.ts';
import { issuerUrl } from '../tenancy/tenant.ts';
import { AppError } from '../core/errors.ts';
import { renderPage } from '../core/views.ts';
import { DEMO_CLIENT_ID } from '../oidc/demo-client.ts';
import { IssuerCookie } from '../web/issuer-cookie.ts';

/** The demo's sign-in in progress, per tenant issuer (core/cookie-rule.ts). */
const demoCookie = (ctx: Context) => new IssuerCookie(ctx.state.runtime.cookies, 'atrium.demo', { signed: true });

/** What the demo pages use: the configuration (issuer URLs) and the tenant's public keys (to verify the ID token). */
export interface DemoDeps {
  config: AtriumConfig;
  keys: Pick<SigningKeyStore, 'list'>;
}

/** Calls one of the tenant's endpoints on this very server over loopback, with the tenant's Host. */
function callOwnEndpoint(ctx: Context, path: string, options: { form?: URLSearchParams; bearer?: string }): Promise<Record<string, unknown>> {
  const body = options.form?.toString() ?? '';
  const headers: Record<string, string | number> = { host: ctx.host };
  if (options.form) Object.assign(headers, { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) });
  if (options.bearer) headers.authorization = `Bearer ${options.bearer}`;
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port: ctx.req.socket.localPort, method: options.form ? 'POST' : 'GET', path, headers },
      (res) => {
        let data = '';
        res.on('data', (c: Buffer) => (data += c.toString()));
        res.on('end', () => {
          try {
            resolve(JSON.parse(data) as Record<string, unknown>);
          } catch {
            reject(new Error(`${path} answered with a body that is not JSON`));
          }
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

export function demoRoutes(services: DemoDeps): Router {
  const router = new Router({ prefix: '/demo' });
  const tenantOf = (ctx: Context) => ctx.state.tenant;

  router.get('/', async function startDemoSignIn(ctx) {
    const tenant = tenantOf(ctx);
    const verifier = randomBytes(32).toString('base64url');
    const state = randomBytes(16).toString('base64url');
    const nonce = randomBytes(16).toString('base64url');
    demoCookie(ctx).set(ctx, Buffer.from(JSON.stringify({ verifier, state, nonce })).toString('base64url'), 600_000);
    const auth = issuerUrl(tenant, services.config, '/auth');
    auth.search = new URLSearchParams({
      client_id: DEMO_CLIENT_ID,
      response_type: 'code',
      redirect_uri: issuerUrl(tenant, services.config, '/demo/callback').href,
      scope: 'openid email profile',
      code_challenge: createHash('sha256').update(verifier).digest('base64url'),
      code_challenge_method: 'S256',
      state,
      nonce,
    }).toString();
    ctx.redirect(auth.pathname + auth.search);
  });

  router.get('/callback', async function finishDemoSignIn(ctx) {
    const tenant = tenantOf(ctx);
    const issuer = ctx.state.runtime.issuer;
    const raw = demoCookie(ctx).get(ctx);
    const saved = raw ? (JSON.parse(Buffer.from(raw, 'base64url').toString()) as { verifier: string; state: string; nonce: string }) : undefined;
    if (typeof ctx.query.error === 'string') throw new AppError('access_denied', 400, `The sign-in ended with "${ctx.query.error}".`);
    if (!saved || ctx.query.state !== saved.state) throw new AppError('invalid_state', 400, 'This sign-in was not started here, or took too long. Open /demo again.');
    if (ctx.query.iss !== issuer) throw new AppError('invalid_issuer', 400, 'The response came from an unexpected issuer.');
    demoCookie(ctx).clear(ctx);
    const tokens = await callOwnEndpoint(ctx, '/token', { form: new URLSearchParams({ grant_type: 'authorization_code', code: String(ctx.query.code ?? ''), redirect_uri: issuerUrl(tenant, services.config, '/demo/callback').href, client_id: DEMO_CLIENT_ID, code_verifier: saved.verifier }) });
    if (typeof tokens.id_token !== 'string') throw new AppError('token_error', 400, `The token request failed: ${JSON.stringify(tokens.error_description ?? tokens.error ?? 'unknown error')}`);
    const jwks = createLocalJWKSet({ keys: (await services.keys.list()).map((k) => k.publicJwk) });
    const { payload } = await jwtVerify(tokens.id_token, jwks, { issuer, audience: DEMO_CLIENT_ID });
    if (payload.nonce !== saved.nonce) throw new AppError('invalid_nonce', 400, 'The ID token does not belong to this sign-in.');
    const userinfo = await callOwnEndpoint(ctx, '/me', { bearer: String(tokens.access_token) });
    ctx.type = 'html';
    ctx.body = await renderPage('console/demo/signed-in', {
      tenantName: tenant.name,
      title: 'Signed in',
      claims: JSON.stringify(payload, null, 2),
      userinfo: JSON.stringify(userinfo, null, 2),
      email: typeof userinfo.email === 'string' ? userinfo.email : String(payload.sub),
      logoutUrl: `/session/end?${String(new URLSearchParams({ id_token_hint: tokens.id_token, post_logout_redirect_uri: issuerUrl(tenant, services.config, '/demo/signed-out').href, client_id: DEMO_CLIENT_ID }))}`,
    });
  });

  router.get('/signed-out', async function demoSignedOut(ctx) {
    ctx.type = 'html';
    ctx.body = await renderPage('console/demo/signed-out', { tenantName: tenantOf(ctx).name, title: 'Signed out' });
  });

  return router;
}
