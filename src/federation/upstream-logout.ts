/**
 * The sign-out request sent to an upstream, in the shape each kind of provider takes:
 *   post_logout_redirect_uri  OpenID Connect RP-Initiated Logout 1.0 (generic OIDC, Keycloak,
 *                             Entra ID, Okta, MobilityGuard): id_token_hint, the return
 *                             address, client_id
 *   returnTo                  Auth0's /v2/logout: returnTo and client_id
 *   logout_uri                Cognito's /logout: logout_uri and client_id
 * No `state` is sent: Auth0 and Cognito do not return it. What the browser does after
 * coming back is carried in a sealed cookie instead (interactions/federated-sign-out.ts).
 */
export const POST_LOGOUT_RETURN_PARAMS = ['post_logout_redirect_uri', 'returnTo', 'logout_uri'] as const;
export type PostLogoutReturnParam = (typeof POST_LOGOUT_RETURN_PARAMS)[number];

export interface UpstreamLogoutRequest {
  endpoint: string;
  param: PostLogoutReturnParam;
  clientId: string;
  /** The upstream's ID token of the session: the hint, where the provider takes one. */
  idToken: string;
  /** Atrium's return route of the connection. */
  returnTo: string;
}

export function upstreamLogoutUrl(request: UpstreamLogoutRequest): URL {
  const url = new URL(request.endpoint);
  const set = (name: string, value: string) => url.searchParams.set(name, value);
  switch (request.param) {
    case 'post_logout_redirect_uri':
      set('id_token_hint', request.idToken);
      set('post_logout_redirect_uri', request.returnTo);
      set('client_id', request.clientId);
      break;
    case 'returnTo':
      set('returnTo', request.returnTo);
      set('client_id', request.clientId);
      break;
    case 'logout_uri':
      set('client_id', request.clientId);
      set('logout_uri', request.returnTo);
      break;
  }
  return url;
}

/** Atrium's return route of a connection: where the upstream sends the browser after its sign-out. */
export const signedOutPath = (connectionName: string) => `/federation/${connectionName}/signed-out`;
/** Where a connection's upstream posts its logout tokens (Back-Channel Logout 1.0). */
export const backchannelLogoutPath = (connectionName: string) => `/federation/${connectionName}/backchannel-logout`;
