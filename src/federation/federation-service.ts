/**
 * A tenant's upstream identity providers: list, get, put, delete and test its connections,
 * each change audited. Called by the management API and by the admin pages; everything
 * runs in the tenant in context (the caller steps into the tenant first).
 */
import { perTenantRecord } from '../tenancy/per-tenant-record.ts';
import { mergedSection } from '../tenancy/tenant-config.ts';
import * as oidc from 'openid-client';
import type { AtriumConfig } from '../config/env.ts';
import { AppError, badRequest, conflict, notFound } from '../core/errors.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import { DESTINATION_NOT_ALLOWED, EgressFailedError, findEgressRefusal } from '../core/egress-guard.ts';
import type { Tenant } from '../tenancy/tenant.ts';
import { SECRET_MASK } from '../tenancy/tenant-config.ts';
import { connectionInputSchema, CONNECTION_NAME, discoveryUrl, toSettings, type ConnectionSettings } from './connection-schema.ts';
import type { ConnectionStore, SecretChange, StoredConnection } from './connection-store.ts';
import type { UpstreamClients } from './upstream-client.ts';
import { parseInput } from '../core/validation.ts';

/** Who made a change, for the audit trail (an API client, an admin user). */
export interface ChangeSource {
  actor: string;
  ip?: string | null;
  userAgent?: string | null;
}

export interface TestStep {
  name: 'discovery' | 'jwks' | 'credentials';
  ok: boolean;
  detail: string;
}

export interface TestReport {
  ok: boolean;
  steps: TestStep[];
}

/** The connection as the API and admin pages show it: the secret masked, never returned. */
export function connectionJson(connection: StoredConnection, urisFor: (redirectPath: string | null) => { tenant: string; relay: string }) {
  const s = connection.settings;
  const redirectUris = urisFor(s.redirect_path);
  return {
    name: connection.name,
    provider: s.provider,
    display_name: s.display_name,
    enabled: s.enabled,
    ...s.preset,
    issuer: s.issuer,
    discovery_endpoint: discoveryUrl(s) ?? null,
    ...(s.endpoints ?? {}),
    client_id: s.client_id,
    client_secret: connection.hasSecret ? SECRET_MASK : null,
    has_client_secret: connection.hasSecret,
    token_endpoint_auth_method: s.token_endpoint_auth_method,
    scopes: s.scopes,
    allowed_domains: s.allowed_domains,
    home_realm_domains: s.home_realm_domains,
    claims_mapping: s.claims_mapping,
    link_by_verified_email: s.link_by_verified_email,
    use_relay: s.use_relay,
    public_issuer: s.public_issuer,
    redirect_path: s.redirect_path,
    role_mapping: s.role_mapping,
    // How a sign-out leaves through the upstream: given, or what the preset filled in.
    end_session_endpoint: s.end_session_endpoint,
    post_logout_return_param: s.post_logout_return_param,
    // Re-checked at the upstream at every refresh when set (introspection.ts).
    introspection_endpoint: s.introspection_endpoint,
    // What to register at the upstream as the redirect URI.
    redirect_uri: s.use_relay ? redirectUris.relay : redirectUris.tenant,
    created_at: connection.createdAt.toISOString(),
    updated_at: connection.updatedAt.toISOString(),
  };
}

/** A connection name from a path; one that could never exist is simply not found. */
function checkName(name: string): string {
  if (!CONNECTION_NAME.test(name)) throw notFound('no such federation connection');
  return name;
}

/**
 * `features.enterprise_sso`: the tenant's switch for all of its upstream connections. Off, no
 * connection is offered or started, and a sign-in already on its way upstream is refused
 * when it comes back; the connections themselves are kept for when it is switched on again.
 */
export const enterpriseSsoOn = perTenantRecord((tenant: Pick<Tenant, 'config'>): boolean => mergedSection(tenant, 'features').enterprise_sso !== false);

/** Whether users may sign in with this connection now. */
export function connectionUsable(tenant: Pick<Tenant, 'config'>, connection: StoredConnection): boolean {
  return connection.settings.enabled && enterpriseSsoOn(tenant);
}

export class FederationService {
  readonly #config: AtriumConfig;
  readonly #store: ConnectionStore;
  readonly #clients: UpstreamClients;
  readonly #audit: AuditLog;

  constructor(deps: { config: AtriumConfig; store: ConnectionStore; clients: UpstreamClients; audit: AuditLog }) {
    this.#config = deps.config;
    this.#store = deps.store;
    this.#clients = deps.clients;
    this.#audit = deps.audit;
  }

  list(): Promise<StoredConnection[]> {
    return this.#store.list();
  }

  async get(name: string): Promise<StoredConnection> {
    const connection = await this.#store.get(checkName(name));
    if (!connection) throw notFound('no such federation connection');
    return connection;
  }

  /** The connections users may sign in with, for the login page's buttons: enabled ones, while the tenant has enterprise SSO on. */
  async enabled(tenant: Pick<Tenant, 'config'>): Promise<StoredConnection[]> {
    if (!enterpriseSsoOn(tenant)) return [];
    return (await this.#store.list()).filter((c) => c.settings.enabled);
  }

  /** Home-realm discovery: the usable connection that claims the email's domain, if any. */
  async forEmail(tenant: Pick<Tenant, 'config'>, email: string): Promise<StoredConnection | undefined> {
    const at = email.lastIndexOf('@');
    if (at < 1) return undefined;
    const domain = email.slice(at + 1).trim().toLowerCase();
    return (await this.enabled(tenant)).find((c) => c.settings.home_realm_domains.includes(domain));
  }

  /** Creates or replaces a connection. A missing or masked `client_secret` keeps the stored one; `null` removes it. */
  async put(tenant: Tenant, name: string, body: unknown, source: ChangeSource): Promise<{ connection: StoredConnection; created: boolean }> {
    if (!CONNECTION_NAME.test(name)) throw badRequest('name: must be 1-63 lowercase letters, digits, "-" or "_", starting with a letter or digit');
    const input = parseInput(connectionInputSchema({ allowHttp: this.#config.env === 'development' }), body);
    const existing = await this.#store.get(name);
    const secret: SecretChange =
      input.client_secret === null ? { kind: 'remove' } : input.client_secret === undefined || input.client_secret === SECRET_MASK ? { kind: 'keep' } : { kind: 'set', value: input.client_secret };
    const hasSecret = secret.kind === 'set' || (secret.kind === 'keep' && Boolean(existing?.hasSecret));
    const settings = toSettings(input);
    if (settings.token_endpoint_auth_method !== 'none' && !hasSecret) throw badRequest(`client_secret: required with token_endpoint_auth_method ${settings.token_endpoint_auth_method}`);
    if (settings.token_endpoint_auth_method === 'none' && secret.kind === 'keep' && existing?.hasSecret) throw badRequest('client_secret: send null to remove the stored secret when token_endpoint_auth_method is none');
    await this.#checkHomeRealms(name, settings);
    const result = await this.#store.put(tenant.id, name, settings, secret);
    this.#clients.forget(tenant.id, name);
    await this.#audit.record({
      action: result.created ? 'federation.connection_created' : 'federation.connection_updated',
      actor: source.actor,
      target: name,
      ip: source.ip,
      userAgent: source.userAgent,
      details: { provider: settings.provider, enabled: settings.enabled, secret_changed: secret.kind !== 'keep' },
    });
    return result;
  }

  async delete(tenant: Tenant, rawName: string, source: ChangeSource): Promise<void> {
    const name = checkName(rawName);
    if (!(await this.#store.delete(name))) throw notFound('no such federation connection');
    this.#clients.forget(tenant.id, name);
    await this.#audit.record({ action: 'federation.connection_deleted', actor: source.actor, target: name, ip: source.ip, userAgent: source.userAgent });
  }

  /**
   * Checks discovery, the upstream's JWKS and the client credentials, reporting each step. A
   * step the egress guard refused (an internal destination) makes the whole test a 400
   * `destination_not_allowed`: that is the caller's mistake, not the upstream's.
   */
  async test(tenant: Tenant, rawName: string, source: ChangeSource): Promise<TestReport> {
    const connection = await this.get(rawName);
    const steps: TestStep[] = [];
    const report = (): TestReport => ({ ok: steps.every((s) => s.ok), steps });
    try {
      let configuration: oidc.Configuration;
      try {
        configuration = await this.#clients.build(connection.settings, () => this.#store.secret(tenant.id, connection.name));
        const meta = configuration.serverMetadata();
        steps.push({ name: 'discovery', ok: true, detail: connection.settings.endpoints ? `explicit endpoints for issuer ${meta.issuer}` : `issuer ${meta.issuer}` });
      } catch (err) {
        refuseEgress(err);
        steps.push({ name: 'discovery', ok: false, detail: `could not read the discovery document at ${discoveryUrl(connection.settings)}: ${describe(err)}` });
        return await this.#recordTest(connection.name, report(), source);
      }
      steps.push(await this.#checkJwks(configuration));
      steps.push(await this.#checkCredentials(configuration, connection.settings));
      return await this.#recordTest(connection.name, report(), source);
    } catch (err) {
      if (err instanceof AppError && err.code === DESTINATION_NOT_ALLOWED) await this.#recordTest(connection.name, { ok: false, steps: [...steps, { name: 'discovery', ok: false, detail: DESTINATION_NOT_ALLOWED }] }, source);
      throw err;
    }
  }

  async #recordTest(name: string, result: TestReport, source: ChangeSource): Promise<TestReport> {
    await this.#audit.record({
      action: 'federation.connection_tested',
      outcome: result.ok ? 'success' : 'failure',
      actor: source.actor,
      target: name,
      ip: source.ip,
      userAgent: source.userAgent,
      details: { steps: result.steps.map((s) => ({ name: s.name, ok: s.ok })) },
    });
    return result;
  }

  async #checkJwks(configuration: oidc.Configuration): Promise<TestStep> {
    const uri = configuration.serverMetadata().jwks_uri;
    if (!uri) return { name: 'jwks', ok: false, detail: 'the upstream publishes no jwks_uri' };
    try {
      const res = await this.#clients.fetch(uri, { headers: { accept: 'application/json' } });
      if (!res.ok) return { name: 'jwks', ok: false, detail: `${uri} answered ${res.status}` };
      const body = (await res.json()) as { keys?: { kty?: string; use?: string }[] };
      const signing = (body.keys ?? []).filter((k) => typeof k.kty === 'string' && (k.use === undefined || k.use === 'sig'));
      if (signing.length === 0) return { name: 'jwks', ok: false, detail: `${uri} holds no signing key` };
      return { name: 'jwks', ok: true, detail: `${signing.length} signing key(s) at ${uri}` };
    } catch (err) {
      refuseEgress(err);
      return { name: 'jwks', ok: false, detail: `could not read ${uri}: ${describe(err)}` };
    }
  }

  /**
   * A client-credentials request authenticates the client without a user. An upstream that
   * authenticates the client but does not let it use that grant (unauthorized_client,
   * unsupported_grant_type, invalid_scope, or oidc-provider's invalid_request naming the
   * grant type) has still accepted the credentials.
   */
  async #checkCredentials(configuration: oidc.Configuration, settings: ConnectionSettings): Promise<TestStep> {
    if (settings.token_endpoint_auth_method === 'none') return { name: 'credentials', ok: true, detail: 'skipped: a public client (PKCE only) has no secret to check' };
    const supported = configuration.serverMetadata().grant_types_supported;
    if (supported && !supported.includes('client_credentials')) return { name: 'credentials', ok: true, detail: 'skipped: the upstream does not offer the client_credentials grant' };
    try {
      await oidc.clientCredentialsGrant(configuration);
      return { name: 'credentials', ok: true, detail: 'the upstream accepted the client credentials' };
    } catch (err) {
      refuseEgress(err);
      const code = upstreamErrorCode(err);
      // oidc-provider answers invalid_request "requested grant type is not allowed for this client", after client authentication.
      const grantRefused = code === 'invalid_request' && /grant.type/i.test((err as oidc.ResponseBodyError).error_description ?? '');
      if (code && (grantRefused || ['unauthorized_client', 'unsupported_grant_type', 'invalid_scope', 'invalid_target'].includes(code))) {
        return { name: 'credentials', ok: true, detail: `the upstream accepted the client credentials (and answered ${code} for the client_credentials grant itself)` };
      }
      if (code === 'invalid_client') return { name: 'credentials', ok: false, detail: 'the upstream refused the client id or secret (invalid_client)' };
      return { name: 'credentials', ok: false, detail: `the token endpoint request failed: ${describe(err)}` };
    }
  }

  /** One domain, one home realm: two enabled connections of a tenant cannot both claim it. */
  async #checkHomeRealms(name: string, settings: ConnectionSettings): Promise<void> {
    if (!settings.enabled || settings.home_realm_domains.length === 0) return;
    for (const other of await this.#store.list()) {
      if (other.name === name || !other.settings.enabled) continue;
      const clash = settings.home_realm_domains.find((d) => other.settings.home_realm_domains.includes(d));
      if (clash) throw conflict(`home_realm_domains: ${clash} already belongs to the connection "${other.name}"`);
    }
  }
}

/** The OAuth error code of an upstream's answer: in its JSON body, or in a 401's WWW-Authenticate challenge. */
export function upstreamErrorCode(err: unknown): string | undefined {
  if (err instanceof oidc.ResponseBodyError || err instanceof oidc.AuthorizationResponseError) return err.error;
  if (err instanceof oidc.WWWAuthenticateChallengeError) return err.cause.find((c) => c.parameters.error)?.parameters.error ?? (err.status === 401 ? 'invalid_client' : undefined);
  return undefined;
}

/** An internal destination somewhere in `err` becomes the caller's 400. */
function refuseEgress(err: unknown): void {
  const refusal = findEgressRefusal(err);
  if (refusal) throw new AppError(DESTINATION_NOT_ALLOWED, 400, `${refusal.message}; the operator can allow it with EGRESS_ALLOW`, { cause: refusal });
}

/** Whether the egress guard reported a network failure (its words carry no details: they are in the log). */
function egressFailure(err: unknown, depth = 0): EgressFailedError | undefined {
  if (err instanceof EgressFailedError) return err;
  if (!err || typeof err !== 'object' || depth > 8) return undefined;
  return egressFailure((err as { cause?: unknown }).cause, depth + 1);
}

/**
 * An upstream failure in words that name the problem, without secrets. Network failures all
 * read alike (the egress guard's one message): telling "connection refused" from "bad
 * certificate" would make the connection test a port scanner.
 */
export function describe(err: unknown): string {
  const network = egressFailure(err);
  if (network) return network.message;
  if (err instanceof oidc.WWWAuthenticateChallengeError) return `${err.status} ${upstreamErrorCode(err) ?? 'challenge'}`;
  if (err instanceof oidc.ResponseBodyError) return `${err.error}${err.error_description ? `: ${err.error_description}` : ''}`;
  if (err instanceof oidc.AuthorizationResponseError) return `${err.error}${err.error_description ? `: ${err.error_description}` : ''}`;
  if (err instanceof Error) {
    // openid-client's cause says which check failed (e.g. 'unexpected ID Token "nonce" claim value'), without the values.
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    const detail = cause instanceof Error ? cause.message : (cause?.code ?? cause?.message);
    return `${err.message}${detail ? ` (${detail})` : ''}`.slice(0, 300);
  }
  return 'unknown error';
}
