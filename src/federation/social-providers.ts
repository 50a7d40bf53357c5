/**
 * The social sign-in providers (`features.social`), each as its public documentation
 * describes it: where the browser goes, where the code is redeemed, how the user is read.
 * Google, Microsoft and Apple are OpenID Connect (an ID token, checked against the
 * provider's JWKS); GitHub and Facebook are OAuth 2.0 without it (their user APIs are read
 * and mapped to claims). The public hosts can be replaced, for the operator's proxy or a
 * test's local stand-in, only through SOCIAL_PROVIDER_URLS (config/env.ts): one origin then
 * stands in for all of the provider's hosts, every path kept as the provider's own.
 */
import type { AtriumConfig } from '../config/env.ts';
import type { SocialProvider } from '../config/tenant-config-schema.ts';

export interface SocialProviderSpec {
  name: SocialProvider;
  displayName: string;
  kind: 'oidc' | 'oauth2';
  authorize: string;
  token: string;
  /** OIDC: the provider's JWKS and issuer (`{tid}` in Microsoft's stands for the user's directory). */
  jwks?: string;
  issuer?: string;
  /** OAuth 2.0: the user API(s). */
  user?: string;
  emails?: string;
  /** Always asked for; a tenant's `scopes` add to them. */
  scopes: string[];
  /** Apple answers with a form post when name or email is asked for. */
  responseMode?: 'form_post';
}

export const SOCIAL_SPECS: Readonly<Record<SocialProvider, SocialProviderSpec>> = {
  google: {
    name: 'google', displayName: 'Google', kind: 'oidc',
    authorize: 'https://accounts.google.com/o/oauth2/v2/auth', token: 'https://oauth2.googleapis.com/token',
    jwks: 'https://www.googleapis.com/oauth2/v3/certs', issuer: 'https://accounts.google.com', scopes: ['openid', 'email', 'profile'],
  },
  microsoft: {
    name: 'microsoft', displayName: 'Microsoft', kind: 'oidc',
    authorize: 'https://login.microsoftonline.com/common/oauth2/v2.0/authorize', token: 'https://login.microsoftonline.com/common/oauth2/v2.0/token',
    jwks: 'https://login.microsoftonline.com/common/discovery/v2.0/keys', issuer: 'https://login.microsoftonline.com/{tid}/v2.0', scopes: ['openid', 'email', 'profile'],
  },
  apple: {
    name: 'apple', displayName: 'Apple', kind: 'oidc',
    authorize: 'https://appleid.apple.com/auth/authorize', token: 'https://appleid.apple.com/auth/token',
    jwks: 'https://appleid.apple.com/auth/keys', issuer: 'https://appleid.apple.com', scopes: ['name', 'email'], responseMode: 'form_post',
  },
  github: {
    name: 'github', displayName: 'GitHub', kind: 'oauth2',
    authorize: 'https://github.com/login/oauth/authorize', token: 'https://github.com/login/oauth/access_token',
    user: 'https://api.github.com/user', emails: 'https://api.github.com/user/emails', scopes: ['read:user', 'user:email'],
  },
  facebook: {
    name: 'facebook', displayName: 'Facebook', kind: 'oauth2',
    authorize: 'https://www.facebook.com/v19.0/dialog/oauth', token: 'https://graph.facebook.com/v19.0/oauth/access_token',
    user: 'https://graph.facebook.com/v19.0/me?fields=id,name,email', scopes: ['email', 'public_profile'],
  },
};

/** The spec with its URLs at the operator's stand-in origin, when one is configured. */
export function resolvedSpec(name: SocialProvider, config: Pick<AtriumConfig, 'providerOrigins'>): SocialProviderSpec {
  const spec = SOCIAL_SPECS[name];
  const origin = config.providerOrigins.social[name];
  if (!origin) return spec;
  const at = (url: string | undefined) => (url ? origin + url.replace(/^https:\/\/[^/]+/, '') : undefined);
  return { ...spec, authorize: at(spec.authorize)!, token: at(spec.token)!, jwks: at(spec.jwks), issuer: at(spec.issuer), user: at(spec.user), emails: at(spec.emails) };
}

/** The key of a social sign-in in `federation_login_states` and `federated_identities`: never a connection name (those have no colon). */
export const socialConnectionName = (name: SocialProvider) => `social:${name}`;
