/**
 * One tenant as a request sees it: its record and everything derived from it, typed, built
 * once per tenant record (so once per version) and carried on `ctx.state.runtime`.
 *
 *   issuer, cookie rule       where its URLs and cookies live (tenancy/tenant.ts, core/cookie-rule.ts)
 *   section(name)             its merged configuration (tenancy/tenant-config.ts)
 *   mfa, tokens, rateLimits   the policies derived from it (mfa/, oidc/, security/)
 *   keys(purpose)             its derived keys (core/secret-box.ts)
 *   provider()                its pooled oidc-provider instance (provider-pool.ts), built on
 *                             first need: most pages never need one
 *
 * Domain services below this layer take the tenant record and call the same derivations;
 * those are memoized per record too (tenancy/per-tenant-record.ts), so nothing is worked
 * out again per request, whichever door a request comes in through.
 */
import type { AtriumConfig } from '../config/env.ts';
import type { ConfigSection } from '../config/tenant-config-schema.ts';
import { cookieRule, type CookieRule } from '../core/cookie-rule.ts';
import type { SecretBox } from '../core/secret-box.ts';
import { mfaPolicy, type MfaPolicy } from '../mfa/mfa-policy.ts';
import type { ProviderRuntime } from '../oidc/provider-factory.ts';
import { tokenLifetimes, type TokenLifetimes } from '../oidc/token-lifetimes.ts';
import { rateLimitRules, type RateLimitRules } from '../security/rate-limit-rules.ts';
import { perTenantRecord } from '../tenancy/per-tenant-record.ts';
import { mergedSection } from '../tenancy/tenant-config.ts';
import { issuerFor, type Tenant } from '../tenancy/tenant.ts';

/** The per-tenant keys pages derive (SecretBox.deriveKeys purposes). */
export type TenantKeyPurpose = 'csrf' | 'account-forms-csrf';

export interface TenantRuntimeDeps {
  config: AtriumConfig;
  box: SecretBox;
  /** The provider pool's lookup (runtime/provider-pool.ts). */
  providerFor: (tenant: Tenant) => Promise<ProviderRuntime>;
}

export class TenantRuntime {
  readonly tenant: Tenant;
  readonly issuer: string;
  readonly cookies: CookieRule;
  readonly mfa: Readonly<MfaPolicy>;
  readonly tokens: TokenLifetimes;
  readonly rateLimits: RateLimitRules;
  readonly #deps: TenantRuntimeDeps;

  constructor(tenant: Tenant, deps: TenantRuntimeDeps) {
    this.tenant = tenant;
    this.#deps = deps;
    this.issuer = issuerFor(tenant, deps.config);
    this.cookies = cookieRule(this.issuer);
    this.mfa = mfaPolicy(tenant);
    this.tokens = tokenLifetimes(tenant);
    this.rateLimits = rateLimitRules(tenant);
  }

  /** A configuration section as the tenant runs with it (defaults, overrides, floors); frozen. */
  section(name: ConfigSection): Readonly<Record<string, unknown>> {
    return mergedSection(this.tenant, name);
  }

  /** Keys for one purpose, current first (a master key rotation still verifies the old). */
  keys(purpose: TenantKeyPurpose): readonly Buffer[] {
    return this.#deps.box.deriveKeys(purpose, this.tenant.id);
  }

  /** The tenant's oidc-provider instance, from the pool (built on first need). */
  provider(): Promise<ProviderRuntime> {
    return this.#deps.providerFor(this.tenant);
  }
}

/** The runtime of each tenant record, built on first use and kept as long as the record. */
export class TenantRuntimes {
  readonly #runtimeOf: (tenant: Tenant) => TenantRuntime;

  constructor(deps: TenantRuntimeDeps) {
    this.#runtimeOf = perTenantRecord((tenant: Tenant) => new TenantRuntime(tenant, deps));
  }

  for(tenant: Tenant): TenantRuntime {
    return this.#runtimeOf(tenant);
  }
}
