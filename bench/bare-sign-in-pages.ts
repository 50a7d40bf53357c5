/**
 * The fewest sign-in pages bare oidc-provider needs for the reference sign-in (F6/bare): a
 * form per prompt, a CSRF token bound to the interaction, the password checked with Atrium's
 * own argon2id parameters, and the consent kept in a Grant. The load generator drives them
 * with the code that drives Atrium's pages (signInThroughPages: a hidden `csrf` input, a
 * `password` field on the login page, POSTs to `<interaction>/login` and `/confirm`).
 * No templates, sessions of our own, storage beyond oidc-provider's adapter, or policy: what a
 * sign-in costs oidc-provider itself.
 */
import type http from 'node:http';
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type Provider from 'oidc-provider';

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => Promise<void>;

export interface PageAccount {
  email: string;
  accountId: string;
  /** True when `password` is the account's (argon2id verification). */
  verify: (password: string) => Promise<boolean>;
}

const PATH = /^\/interaction\/([\w-]+)(?:\/(login|confirm))?$/;

export function bareSignInPages(provider: Provider, account: PageAccount): Handler {
  const csrfKey = randomBytes(32);
  const csrfFor = (uid: string) => createHmac('sha256', csrfKey).update(uid).digest();

  return async (req, res) => {
    const match = PATH.exec((req.url ?? '').split('?')[0]!);
    if (!match) return void res.writeHead(404).end();
    const [, uid, action] = match;
    const details = await provider.interactionDetails(req, res);
    if (details.uid !== uid) return void res.writeHead(400).end('not this interaction');
    const prompt = details.prompt.name;

    if (req.method === 'GET' && !action) {
      const fields = prompt === 'login' ? '<input name="email" type="email"><input name="password" type="password">' : '';
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      return void res.end(`<!doctype html><form method="post" action="/interaction/${uid}/${prompt === 'login' ? 'login' : 'confirm'}"><input type="hidden" name="csrf" value="${csrfFor(uid).toString('base64url')}">${fields}<button>Continue</button></form>`);
    }
    if (req.method !== 'POST' || !action) return void res.writeHead(405).end();

    let body = '';
    for await (const chunk of req) body += String(chunk);
    const form = new URLSearchParams(body);
    const csrf = Buffer.from(form.get('csrf') ?? '', 'base64url');
    const expected = csrfFor(uid);
    if (csrf.length !== expected.length || !timingSafeEqual(csrf, expected)) return void res.writeHead(403).end('bad csrf');
    if ((action === 'login') !== (prompt === 'login')) return void res.writeHead(400).end(`the prompt is ${prompt}`);

    let result: Parameters<Provider['interactionResult']>[2];
    if (action === 'login') {
      const known = form.get('email') === account.email && (await account.verify(form.get('password') ?? ''));
      if (!known) return void res.writeHead(401).end('wrong email or password');
      result = { login: { accountId: account.accountId } };
    } else {
      const grant = details.grantId
        ? await provider.Grant.find(details.grantId)
        : new provider.Grant({ accountId: details.session!.accountId, clientId: String(details.params.client_id) });
      if (!grant) return void res.writeHead(400).end('no grant');
      const missing = details.prompt.details as { missingOIDCScope?: string[]; missingOIDCClaims?: string[]; missingResourceScopes?: Record<string, string[]> };
      if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
      if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
      for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) grant.addResourceScope(indicator, scopes.join(' '));
      result = { consent: { grantId: await grant.save() } };
    }
    const location = await provider.interactionResult(req, res, result, { mergeWithLastSubmission: false });
    res.writeHead(303, { location }).end();
  };
}
