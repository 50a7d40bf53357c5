/**
 * One social provider's side of a sign-in: the authorization URL, the code redeemed at the
 * token endpoint (PKCE where the provider takes it), and the user read as claims. Our own
 * code rather than openid-client, whose checks fit one issuer per configuration: Microsoft's
 * common endpoint issues ID tokens from each user's directory (`iss` names the `tid`), Apple
 * answers by form post and wants a fresh signed client secret, and GitHub and Facebook have
 * no ID token at all. ID tokens are still verified by jose (signature against the provider's
 * JWKS, issuer, audience, expiry, nonce). Every call goes through the egress guard.
 */
import { createPrivateKey } from 'node:crypto';
import { createLocalJWKSet, decodeJwt, jwtVerify, SignJWT, type JSONWebKeySet } from 'jose';
import type { MappedClaims } from './provisioning.ts';
import type { SocialProviderSpec } from './social-providers.ts';
import { FederationError } from './federation-error.ts';

export type SocialFetch = (url: string, init?: Record<string, unknown>) => Promise<Response>;

export interface SocialSettings {
  client_id: string;
  scopes?: string[];
  team_id?: string;
  key_id?: string;
}

/** Apple's client secret: an ES256 JWT (kid: the key id; iss: the team id; sub: the client id; aud: Apple), five minutes long. */
export async function appleClientSecret(settings: SocialSettings, privateKeyPem: string): Promise<string> {
  return new SignJWT({})
    .setProtectedHeader({ alg: 'ES256', kid: settings.key_id! })
    .setIssuer(settings.team_id!)
    .setSubject(settings.client_id)
    .setAudience('https://appleid.apple.com')
    .setIssuedAt()
    .setExpirationTime('5m')
    .sign(createPrivateKey(privateKeyPem));
}

export function authorizationUrl(spec: SocialProviderSpec, settings: SocialSettings, p: { redirectUri: string; state: string; nonce: string; codeChallenge: string }): string {
  const url = new URL(spec.authorize);
  const scopes = [...new Set([...spec.scopes, ...(settings.scopes ?? [])])];
  url.searchParams.set('client_id', settings.client_id);
  url.searchParams.set('redirect_uri', p.redirectUri);
  url.searchParams.set('response_type', 'code');
  url.searchParams.set('scope', scopes.join(' '));
  url.searchParams.set('state', p.state);
  if (spec.kind === 'oidc') url.searchParams.set('nonce', p.nonce);
  if (spec.responseMode) url.searchParams.set('response_mode', spec.responseMode);
  // Apple documents no PKCE; the others take it.
  if (spec.name !== 'apple') {
    url.searchParams.set('code_challenge', p.codeChallenge);
    url.searchParams.set('code_challenge_method', 'S256');
  }
  return url.href;
}

const fail = (provider: string, detail: string) => new FederationError('token_invalid', 400, { provider }, { upstream: detail.slice(0, 300) });

async function json(res: Response, provider: string, what: string): Promise<Record<string, unknown>> {
  const body: unknown = await res.json().catch(() => undefined);
  if (!res.ok || !body || typeof body !== 'object') {
    const error = body && typeof body === 'object' && typeof (body as { error?: unknown }).error === 'string' ? (body as { error: string }).error : `HTTP ${res.status}`;
    throw new FederationError('upstream_error', 400, { provider, reason: error.replace(/[^\w.-]/g, '').slice(0, 64) }, { upstream: `${what}: ${error}` });
  }
  return body as Record<string, unknown>;
}

/** Redeems the code; answers the token response (GitHub answers errors with a 200 and an `error`). */
async function redeemCode(spec: SocialProviderSpec, fetch: SocialFetch, settings: SocialSettings, secret: string, code: string, redirectUri: string, verifier: string): Promise<Record<string, unknown>> {
  const params = new URLSearchParams({ client_id: settings.client_id, client_secret: secret, code, redirect_uri: redirectUri });
  if (spec.name !== 'apple') params.set('code_verifier', verifier);
  let res: Response;
  if (spec.name === 'facebook') {
    // Facebook's documented exchange is a GET with the parameters in the query.
    res = await fetch(`${spec.token}?${params.toString()}`, { headers: { accept: 'application/json' } });
  } else {
    if (spec.name !== 'github') params.set('grant_type', 'authorization_code');
    res = await fetch(spec.token, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' }, body: params.toString() });
  }
  const body = await json(res, spec.displayName, 'token endpoint');
  if (typeof body.error === 'string') throw new FederationError('upstream_error', 400, { provider: spec.displayName, reason: body.error.replace(/[^\w.-]/g, '').slice(0, 64) }, { upstream: `token endpoint: ${body.error}` });
  return body;
}

/** Verifies an ID token; Microsoft's issuer is its template with the token's own directory id. */
async function verifiedIdToken(spec: SocialProviderSpec, fetch: SocialFetch, idToken: unknown, clientId: string, nonce: string): Promise<Record<string, unknown>> {
  if (typeof idToken !== 'string') throw fail(spec.displayName, 'no id_token in the token response');
  let issuer = spec.issuer!;
  if (issuer.includes('{tid}')) {
    const tid = decodeJwt(idToken).tid;
    if (typeof tid !== 'string' || !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(tid)) throw fail(spec.displayName, 'the ID token names no directory (tid)');
    issuer = issuer.replace('{tid}', tid);
  }
  const jwks = (await json(await fetch(spec.jwks!, { headers: { accept: 'application/json' } }), spec.displayName, 'jwks')) as unknown as JSONWebKeySet;
  try {
    const { payload } = await jwtVerify(idToken, createLocalJWKSet(jwks), { issuer, audience: clientId, algorithms: ['RS256', 'ES256'], clockTolerance: 30 });
    if (payload.nonce !== nonce) throw new Error('unexpected nonce');
    return payload;
  } catch (err) {
    throw fail(spec.displayName, `ID token: ${(err as Error).message}`);
  }
}

const text = (v: unknown): string | undefined => (typeof v === 'string' && v.trim() ? v.trim() : undefined);

/** GitHub: the user, and only a verified primary email (its /user/emails). */
async function githubClaims(spec: SocialProviderSpec, fetch: SocialFetch, token: string): Promise<MappedClaims> {
  const headers = { authorization: `Bearer ${token}`, accept: 'application/vnd.github+json', 'x-github-api-version': '2022-11-28', 'user-agent': 'Atrium' };
  const user = await json(await fetch(spec.user!, { headers }), spec.displayName, '/user');
  const emails: unknown = await (await fetch(spec.emails!, { headers })).json().catch(() => []);
  const primary = Array.isArray(emails) ? (emails as Record<string, unknown>[]).find((e) => e.primary === true && e.verified === true && typeof e.email === 'string') : undefined;
  if (typeof user.id !== 'number' && typeof user.id !== 'string') throw fail(spec.displayName, '/user has no id');
  return { issuer: 'https://github.com', subject: String(user.id), email: text(primary?.email)?.toLowerCase(), emailVerified: Boolean(primary), name: text(user.name) ?? text(user.login), groups: undefined, unmapped: [] };
}

/**
 * Facebook: /me with id, name and email. The Graph API says nothing of verification, so the
 * email is taken for a new account but counted as unverified: it never links an existing one.
 */
async function facebookClaims(spec: SocialProviderSpec, fetch: SocialFetch, token: string): Promise<MappedClaims> {
  const me = await json(await fetch(spec.user!, { headers: { authorization: `Bearer ${token}`, accept: 'application/json' } }), spec.displayName, '/me');
  if (typeof me.id !== 'string') throw fail(spec.displayName, '/me has no id');
  return { issuer: 'https://www.facebook.com', subject: me.id, email: text(me.email)?.toLowerCase(), emailVerified: false, name: text(me.name), groups: undefined, unmapped: [] };
}

/** Apple's `user` form field (first sign-in only): the name the user chose to share. */
export function appleUserName(raw: unknown): string | undefined {
  if (typeof raw !== 'string' || raw.length > 2000) return undefined;
  try {
    const name = (JSON.parse(raw) as { name?: { firstName?: unknown; lastName?: unknown } }).name;
    return [text(name?.firstName), text(name?.lastName)].filter(Boolean).join(' ') || undefined;
  } catch {
    return undefined;
  }
}

function oidcClaims(spec: SocialProviderSpec, payload: Record<string, unknown>, appleName: string | undefined): MappedClaims {
  const verified = payload.email_verified === true || payload.email_verified === 'true';
  // Microsoft's `email` is whatever the directory holds, unverified, unless xms_edov says its domain is the directory's own.
  const emailVerified = spec.name === 'microsoft' ? payload.xms_edov === true || payload.xms_edov === '1' : verified;
  const subject = spec.name === 'microsoft' && typeof payload.tid === 'string' && typeof payload.oid === 'string' ? `${payload.tid}:${payload.oid}` : String(payload.sub);
  const issuer = spec.name === 'microsoft' ? 'https://login.microsoftonline.com' : (SOCIAL_ISSUERS[spec.name] ?? spec.issuer!);
  return { issuer, subject, email: text(payload.email)?.toLowerCase(), emailVerified, name: text(payload.name) ?? appleName, groups: undefined, unmapped: [] };
}

/** The stable identity issuers (the public ones, whatever stand-in served the sign-in). */
const SOCIAL_ISSUERS: Record<string, string> = { google: 'https://accounts.google.com', apple: 'https://appleid.apple.com' };

/** The whole callback's upstream part: the code redeemed, the user read; answers Atrium's claims. */
export async function socialClaims(
  spec: SocialProviderSpec,
  fetch: SocialFetch,
  input: { settings: SocialSettings; secret: string; code: string; redirectUri: string; verifier: string; nonce: string; appleUser?: unknown },
): Promise<MappedClaims> {
  const tokens = await redeemCode(spec, fetch, input.settings, input.secret, input.code, input.redirectUri, input.verifier);
  if (spec.kind === 'oidc') return oidcClaims(spec, await verifiedIdToken(spec, fetch, tokens.id_token, input.settings.client_id, input.nonce), appleUserName(input.appleUser));
  if (typeof tokens.access_token !== 'string') throw fail(spec.displayName, 'no access_token in the token response');
  return spec.name === 'github' ? githubClaims(spec, fetch, tokens.access_token) : facebookClaims(spec, fetch, tokens.access_token);
}
