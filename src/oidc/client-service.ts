/**
 * OIDC client registration for a tenant: RFC 7591 metadata validated by oidc-provider with
 * the tenant's configuration (client-validation.ts; what is accepted is what it will serve), a generated secret for
 * confidential clients, shown once. Every change is audited here, as the request's actor.
 */
import { CONSOLE_CLIENT_ID } from './console-client.ts';
import { errors } from 'oidc-provider';
import { AppError, notFound } from '../core/errors.ts';
import type { Tenant } from '../tenancy/tenant.ts';
import type { TenantService } from '../tenancy/tenant-service.ts';
import type Provider from 'oidc-provider';
import type { AuditLog } from '../audit/audit-log.ts';
import { runAsTenant } from '../core/request-context.ts';
import { type ClientMetadata, type ClientStore, type StoredClient, generateClientId, generateClientSecret } from './client-store.ts';

/** Properties the server assigns; a request may not set them. */
const SERVER_ASSIGNED = ['client_secret', 'client_id_issued_at', 'client_secret_expires_at', 'registration_access_token', 'registration_client_uri'];
export const CLIENT_ID = /^[A-Za-z0-9._~-]{3,128}$/;

const AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'client_secret_jwt', 'private_key_jwt', 'none'];

function needsSecret(metadata: Record<string, unknown>): boolean {
  const method = metadata.token_endpoint_auth_method ?? 'client_secret_basic';
  // Checked before a secret is generated, so the error names the field actually wrong.
  if (typeof method !== 'string' || !AUTH_METHODS.includes(method)) {
    throw new AppError('invalid_client_metadata', 400, `token_endpoint_auth_method must be one of ${AUTH_METHODS.join(', ')}`);
  }
  return method === 'client_secret_basic' || method === 'client_secret_post' || method === 'client_secret_jwt';
}

/** A Provider with the tenant's configuration, which validates client metadata (client-validation.ts). */
export interface TenantProviders {
  get(tenant: Tenant): Promise<{ provider: Provider }>;
}

export class ClientService {
  readonly #store: ClientStore;
  readonly #validators: TenantProviders;
  readonly #tenants: TenantService;
  readonly #audit: AuditLog;

  constructor(store: ClientStore, validators: TenantProviders, tenants: TenantService, audit: AuditLog) {
    this.#store = store;
    this.#validators = validators;
    this.#tenants = tenants;
    this.#audit = audit;
  }

  /**
   * Runs the store change and its audit event in one transaction of the tenant
   * (`AuditLog.together`), so the webhook outbox rows the event raises commit or roll back
   * with the change; once committed, publishes it (every instance rebuilds the Provider).
   */
  async #change<T>(tenant: Tenant, clientId: string, action: string, work: () => Promise<T>, details: Record<string, unknown> = {}): Promise<T> {
    const done = await runAsTenant(tenant.id, () =>
      this.#audit.together(async () => {
        const result = await work();
        await this.#audit.record({ action, target: clientId, details });
        return result;
      }),
    );
    await runAsTenant(tenant.id, () => this.#audit.whenCommitted(() => this.#tenants.touched(tenant, { clientId })));
    return done;
  }

  async create(tenant: Tenant, input: Record<string, unknown>): Promise<{ client: StoredClient; secret: string | undefined }> {
    for (const key of SERVER_ASSIGNED) if (key in input) throw new AppError('invalid_client_metadata', 400, `${key} is assigned by the server`);
    const clientId = input.client_id === undefined ? generateClientId() : input.client_id;
    if (typeof clientId !== 'string' || !CLIENT_ID.test(clientId)) throw new AppError('invalid_client_metadata', 400, 'client_id must be 3-128 URL-safe characters');
    if (clientId === CONSOLE_CLIENT_ID) throw new AppError('invalid_client_metadata', 400, `client_id ${CONSOLE_CLIENT_ID} is reserved for Atrium's own pages`);
    const secret = needsSecret(input) ? generateClientSecret() : undefined;
    const metadata = await this.#normalize(tenant, { ...input, client_id: clientId }, secret);
    const client = await this.#change(tenant, clientId, 'client.created', () => this.#store.insert(tenant.id, metadata, secret), { client_name: metadata.client_name ?? null });
    return { client, secret };
  }

  /** Merges a partial update over the stored metadata (null removes a property). */
  async update(tenant: Tenant, clientId: string, patch: Record<string, unknown>): Promise<{ client: StoredClient; secret: string | undefined }> {
    for (const key of [...SERVER_ASSIGNED, 'client_id']) if (key in patch) throw new AppError('invalid_client_metadata', 400, `${key} cannot be changed`);
    const current = await this.#store.get(clientId);
    if (!current) throw notFound(`no client "${clientId}"`);
    const merged: ClientMetadata = { ...current.metadata, client_id: clientId };
    for (const [k, v] of Object.entries(patch)) {
      if (v === null) delete merged[k];
      else merged[k] = v;
    }
    // Moving a public client to a secret-based method issues its first secret.
    const secret = needsSecret(merged) && !current.hasSecret ? generateClientSecret() : undefined;
    const keep = needsSecret(merged) ? secret : null;
    // Validation needs some secret for secret-based methods; the stored one stays untouched.
    const metadata = await this.#normalize(tenant, merged, needsSecret(merged) ? (secret ?? generateClientSecret()) : undefined);
    const client = await this.#change(tenant, clientId, 'client.updated', () => this.#updated(tenant, metadata, keep), { fields: Object.keys(patch) });
    return { client, secret };
  }

  /** Replaces the secret of a secret-based client; the new one is returned once and never shown again. */
  async rotateSecret(tenant: Tenant, clientId: string): Promise<{ client: StoredClient; secret: string }> {
    const current = await this.#store.get(clientId);
    if (!current) throw notFound(`no client "${clientId}"`);
    if (!needsSecret(current.metadata)) throw new AppError('invalid_client_metadata', 400, 'this client does not authenticate with a secret');
    const secret = generateClientSecret();
    const client = await this.#change(tenant, clientId, 'client.secret_rotated', () => this.#updated(tenant, current.metadata, secret));
    return { client, secret };
  }

  async delete(tenant: Tenant, clientId: string): Promise<void> {
    await this.#change(tenant, clientId, 'client.deleted', async () => {
      if (!(await this.#store.delete(clientId))) throw notFound(`no client "${clientId}"`);
    });
  }

  /** The stored update, or not found (deleted meanwhile): inside the change's transaction, so nothing is audited for it. */
  async #updated(tenant: Tenant, metadata: ClientMetadata, secret: string | null | undefined): Promise<StoredClient> {
    const client = await this.#store.update(tenant.id, metadata, secret);
    if (!client) throw notFound(`no client "${String(metadata.client_id)}"`);
    return client;
  }

  /**
   * Validates with a Provider of the tenant's configuration and returns the metadata as it understood it:
   * defaults filled in (RFC 7591 §3.2.1), unrecognised properties dropped, no secret.
   */
  async #normalize(tenant: Tenant, metadata: ClientMetadata, secret: string | undefined): Promise<ClientMetadata> {
    const runtime = await this.#validators.get(tenant);
    const candidate = { ...metadata, ...(secret ? { client_secret: secret } : {}) };
    try {
      await runtime.provider.Client.validate(candidate);
      const ClientClass = runtime.provider.Client as unknown as new (m: object) => { metadata(): Record<string, unknown> };
      const { client_secret: _secret, client_secret_expires_at: _expiry, ...normalized } = new ClientClass(candidate).metadata();
      return { ...(JSON.parse(JSON.stringify(normalized)) as Record<string, unknown>), client_id: metadata.client_id };
    } catch (err) {
      if (err instanceof errors.OIDCProviderError) {
        throw new AppError(err.error, 400, err.error_description ?? err.message);
      }
      throw err;
    }
  }
}
