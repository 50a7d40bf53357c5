/**
 * What a preset (a provider and a few inputs: a domain, a realm, a user pool) stands for:
 * the issuer whose discovery document Atrium reads, and how the provider signs a user out
 * (its end-session endpoint and the parameter that carries the address to come back to).
 */
import type { PostLogoutReturnParam } from './upstream-logout.ts';

export const FEDERATION_PROVIDERS = ['generic_oidc', 'entra_id', 'okta', 'auth0', 'keycloak', 'google', 'cognito', 'mobilityguard'] as const;
export type FederationProvider = (typeof FEDERATION_PROVIDERS)[number];

/** The inputs of a connection a preset reads (connection-schema.ts validates them). */
export interface PresetInput {
  provider: FederationProvider;
  issuer?: string;
  directory_id?: string;
  authority_host?: string;
  domain?: string;
  authorization_server?: string;
  base_url?: string;
  realm?: string;
  region?: string;
  user_pool_id?: string;
  end_session_endpoint?: string;
  post_logout_return_param?: PostLogoutReturnParam;
}

export const PROVIDER_NAMES: Record<FederationProvider, string> = {
  generic_oidc: 'Single sign-on',
  entra_id: 'Microsoft',
  okta: 'Okta',
  auth0: 'Auth0',
  keycloak: 'Keycloak',
  google: 'Google',
  cognito: 'Amazon Cognito',
  mobilityguard: 'MobilityGuard',
};

/** The issuer a preset stands for (its discovery document is `{issuer}/.well-known/openid-configuration`). */
export function presetIssuer(input: PresetInput): string | null {
  switch (input.provider) {
    case 'google':
      return 'https://accounts.google.com';
    case 'entra_id':
      // A specific directory: "common"/"organizations" issue tokens whose `iss` names each user's directory, which cannot be validated.
      return `https://${input.authority_host ?? 'login.microsoftonline.com'}/${input.directory_id}/v2.0`;
    case 'okta':
      return input.authorization_server ? `https://${input.domain}/oauth2/${input.authorization_server}` : `https://${input.domain}`;
    case 'auth0':
      // Auth0's issuer carries a trailing slash.
      return `https://${input.domain}/`;
    case 'keycloak':
      return `${input.base_url!.replace(/\/+$/, '')}/realms/${encodeURIComponent(input.realm!)}`;
    case 'cognito':
      return `https://cognito-idp.${input.region}.amazonaws.com/${input.user_pool_id}`;
    case 'generic_oidc':
      return input.issuer ?? null;
    case 'mobilityguard':
      return null;
  }
}

/** Each provider's way out, unless the connection names its own (`end_session_endpoint`, `post_logout_return_param`). */
function presetEndSession(input: PresetInput): { endpoint: string | null; param: PostLogoutReturnParam } {
  switch (input.provider) {
    case 'auth0':
      // Auth0's own logout endpoint: it takes returnTo (an allowed logout URL) and client_id, no id_token_hint.
      return { endpoint: `https://${input.domain}/v2/logout`, param: 'returnTo' };
    case 'cognito':
      // On the user pool's hosted UI domain (not in its discovery document): logout_uri and client_id.
      return { endpoint: input.domain ? `https://${input.domain}/logout` : null, param: 'logout_uri' };
    case 'keycloak':
      return { endpoint: `${presetIssuer(input)}/protocol/openid-connect/logout`, param: 'post_logout_redirect_uri' };
    default:
      // The discovery document's end_session_endpoint (generic OIDC, Entra ID, Okta, MobilityGuard), RP-Initiated Logout's parameter.
      return { endpoint: null, param: 'post_logout_redirect_uri' };
  }
}

/** The sign-out fields of the stored settings: the connection's own, else its preset's. */
export function presetLogout(input: PresetInput): { end_session_endpoint: string | null; post_logout_return_param: PostLogoutReturnParam } {
  const preset = presetEndSession(input);
  return { end_session_endpoint: input.end_session_endpoint ?? preset.endpoint, post_logout_return_param: input.post_logout_return_param ?? preset.param };
}
