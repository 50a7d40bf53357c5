/**
 * Custom domains of a tenant: validated, stored (the tenant's version bumped in the same
 * transaction), then `tenant.changed` is published through TenantService so every
 * instance forgets its cached host lookups and rebuilds the Provider with the new issuer,
 * and audited there.
 * Runs with the tenant in context (the management API's target tenant).
 */
import type { AtriumConfig } from '../config/env.ts';
import type { Tenant } from './tenant.ts';
import type { TenantService } from './tenant-service.ts';
import { parseCustomDomain } from './domain-name.ts';
import type { AddDomainResult, DomainStore, TenantDomain } from './domain-store.ts';

export class DomainService {
  readonly #config: AtriumConfig;
  readonly #store: DomainStore;
  readonly #tenants: TenantService;

  constructor(config: AtriumConfig, store: DomainStore, tenants: TenantService) {
    this.#config = config;
    this.#store = store;
    this.#tenants = tenants;
  }

  list(): Promise<TenantDomain[]> {
    return this.#store.list();
  }

  async add(tenant: Pick<Tenant, 'id' | 'slug'>, input: { domain: string; primary?: boolean }): Promise<AddDomainResult> {
    const domain = parseCustomDomain(input.domain, this.#config);
    const result = await this.#store.add(domain, input.primary ?? false);
    await this.#tenants.domainsChanged(tenant, result.kind === 'added'
      ? { action: 'tenant.domain_added', domain: result.domain.domain, details: { primary: result.domain.primary } }
      : { action: 'tenant.domain_primary_changed', domain: result.domain.domain });
    return result;
  }

  /** `domain` as it appears in the path; matched after lowercasing, like a Host header. */
  async remove(tenant: Pick<Tenant, 'id' | 'slug'>, domain: string): Promise<void> {
    const name = domain.trim().toLowerCase();
    await this.#store.remove(name);
    await this.#tenants.domainsChanged(tenant, { action: 'tenant.domain_removed', domain: name });
  }
}
