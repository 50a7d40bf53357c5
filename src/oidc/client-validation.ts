/**
 * The oidc-provider instance that validates a tenant's client metadata: one per configuration
 * shape (provider-documents.ts), shared by every tenant of that shape, not the tenant's own.
 *
 * Why: a client change makes every instance rebuild the tenant's Provider (the tenant is
 * touched), so building the tenant's own only to validate was a build thrown away moments
 * later, and most of a new tenant's first client creation (bench F7, first token).
 *
 * Why the shape is enough: `Client.validate` and `metadata()` read only the configuration's
 * data (oidc-provider's helpers/client_schema.js): features on or off, response and grant
 * types, scopes, subject types, client defaults, the algorithms the keys allow. The shape is
 * exactly that data. Atrium sets no `extraClientMetadata` validator (the one function the
 * schema would call), and validation never reaches the adapter; the instance keeps the issuer
 * of the tenant it was first built for, against which no client metadata is checked.
 */
import Provider from 'oidc-provider';
import { LRUCache } from 'lru-cache';
import type { Tenant } from '../tenancy/tenant.ts';
import { issuerFor } from '../tenancy/tenant.ts';
import { runAsTenant } from '../core/request-context.ts';
import { providerConfiguration, type ProviderDeps } from './provider-configuration.ts';
import type { ProviderDocuments } from './provider-documents.ts';

export class ClientValidationProviders {
  readonly #deps: ProviderDeps;
  readonly #documents: ProviderDocuments;
  /** A handful in practice: tenants mostly keep the defaults. */
  readonly #byShape = new LRUCache<string, Promise<{ provider: Provider }>>({ max: 100 });

  constructor(deps: ProviderDeps, documents: ProviderDocuments) {
    this.#deps = deps;
    this.#documents = documents;
  }

  /** The Provider that judges this tenant's client metadata as the tenant's own would. */
  async get(tenant: Tenant): Promise<{ provider: Provider }> {
    const shape = await this.#documents.shapeOf(tenant);
    let built = this.#byShape.get(shape);
    if (!built) {
      built = runAsTenant(tenant.id, () => this.#deps.materials.signingKeys(tenant)).then((jwks) => {
        const issuer = issuerFor(tenant, this.#deps.config);
        return { provider: new Provider(issuer, providerConfiguration(tenant, issuer, jwks, this.#deps)) };
      });
      this.#byShape.set(shape, built);
      built.catch(() => this.#byShape.get(shape) === built && this.#byShape.delete(shape));
    }
    return built;
  }
}
