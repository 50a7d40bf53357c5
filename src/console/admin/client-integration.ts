/**
 * What an application's developer needs next, shown on its /admin page: the issuer, the
 * discovery URL and configuration snippets for openid-client (v6) and for any OIDC
 * library. Every URL comes from the tenant's issuer (issuerUrl), never from the request's
 * Host. The snippets carry no secret: the secret is read from the environment.
 */
import type { AtriumConfig } from '../../config/env.ts';
import { issuerFor, issuerUrl, type Tenant } from '../../tenancy/tenant.ts';

interface ClientFacts {
  id: string;
  kind: 'web' | 'public' | 'service';
  authMethod: string;
  redirectUris: string[];
}

const q = (value: string) => JSON.stringify(value);

/** The openid-client auth method matching the client's registered one (the Provider refuses any other). */
function clientAuth(authMethod: string): string {
  if (authMethod === 'none') return 'client.None()';
  if (authMethod === 'client_secret_post') return 'client.ClientSecretPost()';
  return 'client.ClientSecretBasic()';
}

function openidClientSnippet(issuer: string, c: ClientFacts): string {
  const secret = c.authMethod === 'none' ? 'undefined' : 'process.env.ATRIUM_CLIENT_SECRET';
  const head = [
    "import * as client from 'openid-client';",
    '',
    `const config = await client.discovery(new URL(${q(issuer)}), ${q(c.id)}, ${secret}, ${clientAuth(c.authMethod)});`,
  ];
  if (c.kind === 'service') return [...head, "const tokens = await client.clientCredentialsGrant(config, { scope: 'your-api-scope' });"].join('\n');
  return [
    ...head,
    '',
    '// Sign-in: send the browser to this URL, keeping the verifier (e.g. in the session).',
    'const verifier = client.randomPKCECodeVerifier();',
    'const url = client.buildAuthorizationUrl(config, {',
    `  redirect_uri: ${q(c.redirectUris[0] ?? 'https://app.example/callback')},`,
    "  scope: 'openid profile email',",
    '  code_challenge: await client.calculatePKCECodeChallenge(verifier),',
    "  code_challenge_method: 'S256',",
    '});',
    '',
    '// Callback: redeem the code; tokens.claims() is the verified ID token.',
    'const tokens = await client.authorizationCodeGrant(config, callbackUrl, { pkceCodeVerifier: verifier });',
  ].join('\n');
}

function genericSnippet(issuer: string, discoveryUrl: string, c: ClientFacts): string {
  const lines = [
    `issuer:        ${issuer}`,
    `discovery:     ${discoveryUrl}`,
    `client_id:     ${c.id}`,
    `client_secret: ${c.authMethod === 'none' ? '(none: public client, use PKCE)' : '(shown once when created; keep it in your secret store)'}`,
    `auth method:   ${c.authMethod}`,
  ];
  if (c.kind === 'service') return [...lines, 'grant:         client_credentials'].join('\n');
  return [...lines, `redirect_uri:  ${c.redirectUris[0] ?? '(add one above)'}`, 'scopes:        openid profile email', 'response_type: code (with PKCE, S256)'].join('\n');
}

/** The issuer, discovery URL and snippets of one client of `tenant`. */
export function integrationOf(tenant: Tenant, config: AtriumConfig, client: ClientFacts) {
  const issuer = issuerFor(tenant, config);
  const discoveryUrl = issuerUrl(tenant, config, '/.well-known/openid-configuration').href;
  return { issuer, discoveryUrl, openidClient: openidClientSnippet(issuer, client), generic: genericSnippet(issuer, discoveryUrl, client) };
}
