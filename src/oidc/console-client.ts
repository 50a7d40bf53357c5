/** The first-party client through which Atrium's own pages sign in (see console-auth.ts). */
import type { ClientMetadata } from 'oidc-provider';

export const CONSOLE_CLIENT_ID = 'atrium-console';

/** The console's client in every tenant's Provider, served by its client lookup (provider-factory.ts). */
export function consoleClient(issuer: string): ClientMetadata {
  return {
    client_id: CONSOLE_CLIENT_ID,
    client_name: 'Atrium',
    token_endpoint_auth_method: 'none',
    redirect_uris: [`${issuer}/account/callback`],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    scope: 'openid email profile',
  };
}
