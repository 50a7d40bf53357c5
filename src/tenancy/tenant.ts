/** The tenant record and the issuer derived from it. */
import type { AtriumConfig } from '../config/env.ts';
import { DEFAULT_TENANT, PLATFORM_TENANT } from './slug.ts';
import type { TenantRole } from '../config/tenant-config-constraints.ts';
import type { PlatformPolicy } from '../config/platform-policy.ts';

export type TenantStatus = 'active' | 'suspended';

export interface Tenant {
  readonly id: string;
  readonly slug: string;
  readonly name: string;
  readonly status: TenantStatus;
  /** Per-tenant configuration overrides, by section. */
  readonly config: Readonly<Record<string, unknown>>;
  /** Bumped on every change of config, keys, clients or status: pooled Providers older than it are rebuilt. */
  readonly version: number;
  /**
   * The operator's policy the record was read under (tenancy/platform-config.ts). A change of
   * policy makes new records, so what is derived per record (per-tenant-record.ts) follows it.
   */
  readonly policy: PlatformPolicy;
  readonly domains: readonly string[];
  readonly primaryDomain: string | undefined;
  /** The last change of primary domain (issue 14, item 4): what it was before, and when it changed. */
  readonly originChange?: { readonly previousPrimaryDomain: string | undefined; readonly at: Date };
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

/** The tenant that issues management API tokens and hosts platform admins. */
export function platformTenantSlug(config: AtriumConfig): string {
  return config.multiTenancy.enabled ? PLATFORM_TENANT : DEFAULT_TENANT;
}

/** The tenant's part in the deployment, for the configuration constraints that depend on it. */
export function tenantRole(tenant: Pick<Tenant, 'slug'> & Partial<Pick<Tenant, 'policy'>>, config: AtriumConfig): TenantRole {
  return { issuesManagementTokens: tenant.slug === platformTenantSlug(config), policy: tenant.policy };
}

/**
 * The issuer is derived from the tenant record and PUBLIC_URL only, never from request
 * headers: primary custom domain, else `{scheme}://{slug}.{PUBLIC_URL host}`.
 */
export function issuerFor(tenant: Pick<Tenant, 'slug' | 'primaryDomain'>, config: AtriumConfig): string {
  const base = config.publicUrl;
  if (tenant.slug === platformTenantSlug(config)) return base.origin;
  // Custom domains are served over https; plain http only while developing locally.
  if (tenant.primaryDomain) return `${config.env === 'development' ? base.protocol : 'https:'}//${tenant.primaryDomain}`;
  return `${base.protocol}//${tenant.slug}.${base.host}`;
}

/**
 * An absolute URL on the tenant's issuer: the one way Atrium builds a URL it publishes or
 * sends (redirect URIs, mail links, hand-offs), so none is ever built from the request.
 * `path` is absolute (`/account/callback`) and may carry a query.
 */
export function issuerUrl(tenant: Pick<Tenant, 'slug' | 'primaryDomain'>, config: AtriumConfig, path: string): URL {
  if (!path.startsWith('/') || path.startsWith('//')) throw new Error(`issuerUrl needs an absolute path, got ${path}`);
  return new URL(`${issuerFor(tenant, config)}${path}`);
}
