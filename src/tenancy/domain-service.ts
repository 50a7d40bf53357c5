/**
 * Custom domains of a tenant: validated, stored (the tenant's version bumped in the same
 * transaction), then `tenant.changed` is published through TenantService so every
 * instance forgets its cached host lookups and rebuilds the Provider with the new issuer,
 * and audited there (a failed verification too).
 * Runs with the tenant in context (the management API's target tenant).
 */
import type { AtriumConfig } from '../config/env.ts';
import { AppError } from '../core/errors.ts';
import { DESTINATION_NOT_ALLOWED, findEgressRefusal } from '../core/egress-guard.ts';
import type { Tenant } from './tenant.ts';
import type { TenantService } from './tenant-service.ts';
import { parseCustomDomain } from './domain-name.ts';
import type { AddDomainResult, DomainStore, TenantDomain } from './domain-store.ts';
import type { DomainChallenges } from './domain-verification.ts';

export class DomainService {
  readonly #config: AtriumConfig;
  readonly #store: DomainStore;
  readonly #tenants: TenantService;
  readonly #challenges: DomainChallenges;

  constructor(config: AtriumConfig, store: DomainStore, tenants: TenantService, challenges: DomainChallenges) {
    this.#config = config;
    this.#store = store;
    this.#tenants = tenants;
    this.#challenges = challenges;
  }

  list(): Promise<TenantDomain[]> {
    return this.#store.list();
  }

  async add(tenant: Pick<Tenant, 'id' | 'slug'>, input: { domain: string; primary?: boolean }): Promise<AddDomainResult> {
    const domain = parseCustomDomain(input.domain, this.#config);
    const result = await this.#store.add(domain, input.primary ?? false);
    await this.#tenants.domainsChanged(tenant, result.kind === 'added'
      ? { action: 'tenant.domain_added', domain: result.domain.domain, details: { primary: result.domain.primary } }
      : { action: result.kind === 'made_primary' ? 'tenant.domain_primary_changed' : 'tenant.domain_primary_requested', domain: result.domain.domain });
    return result;
  }

  /**
   * Checks the domain's challenge now. Met: the domain is verified (and routes at once on
   * every instance). Not met: a 409 `domain_not_verified` saying what was found. An HTTP
   * challenge on an internal address: a 400 `destination_not_allowed`.
   */
  async verify(tenant: Pick<Tenant, 'id' | 'slug'>, rawDomain: string): Promise<TenantDomain> {
    const domain = await this.#store.get(rawDomain.trim().toLowerCase());
    let result;
    try {
      result = await this.#challenges.check(domain);
    } catch (err) {
      const refusal = findEgressRefusal(err);
      if (!refusal) throw err;
      await this.#tenants.domainVerificationFailed(tenant, domain.domain, DESTINATION_NOT_ALLOWED);
      throw new AppError(DESTINATION_NOT_ALLOWED, 400, `${refusal.message}: the HTTP challenge cannot be fetched from there; use the DNS TXT record`);
    }
    if (!result.ok) {
      await this.#tenants.domainVerificationFailed(tenant, domain.domain, 'domain_not_verified');
      throw new AppError('domain_not_verified', 409, `the challenge of ${domain.domain} is not met yet: DNS: ${result.dns}; HTTP: ${result.http}`);
    }
    const verified = await this.#store.markVerified(domain.domain);
    await this.#tenants.domainsChanged(tenant, { action: 'tenant.domain_verified', domain: verified.domain, details: { primary: verified.primary } });
    return verified;
  }

  /** `domain` as it appears in the path; matched after lowercasing, like a Host header. */
  async remove(tenant: Pick<Tenant, 'id' | 'slug'>, domain: string): Promise<void> {
    const name = domain.trim().toLowerCase();
    await this.#store.remove(name);
    await this.#tenants.domainsChanged(tenant, { action: 'tenant.domain_removed', domain: name });
  }
}
