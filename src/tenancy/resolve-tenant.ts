/**
 * Which tenant a request is for, by the rules of SPEC.md "Tenancy":
 *
 * - A custom domain (an exact host match) comes first; then the configured strategies in
 *   order (`header`, `subdomain`); the first that names an existing tenant wins. The bare
 *   PUBLIC_URL host is the platform tenant; development falls back to `default`.
 * - A tenant header that is present but not a slug is a 400, never skipped.
 * - A header that names no tenant never lands on the platform tenant or the fallback.
 * - A host (custom domain or subdomain) and a header naming two different tenants are a
 *   400 that names both: served silently as either, a caller (or a shared cache) would
 *   get one tenant's answer while asking another.
 * - In multi-tenant staging and production, `default` is not served by name.
 *
 * Every outcome is explicit: a tenant, or a refusal with its status and code.
 */
import type { AtriumConfig } from '../config/env.ts';
import type { Tenant } from './tenant.ts';
import { platformTenantSlug } from './tenant.ts';
import type { TenantRegistry } from './tenant-registry.ts';
import { DEFAULT_TENANT, OPS_TENANT, PLATFORM_TENANT, isValidSlug } from './slug.ts';
import { isForeignHost, parseRequestHost, subdomainLabel } from './request-host.ts';

export interface ResolveInput {
  /** The request's host (Koa's `ctx.host`), port included as sent. */
  host: string;
  /** Value of the configured tenant header: undefined when absent, '' when sent empty. */
  header: string | undefined;
}

export type Via = 'single-tenant' | 'domain' | 'header' | 'subdomain' | 'platform-host' | 'fallback';

export interface Refusal {
  kind: 'refused';
  status: number;
  code: 'invalid_host' | 'invalid_tenant' | 'tenant_conflict' | 'unknown_tenant';
  description: string;
}

export type Resolution = { kind: 'tenant'; tenant: Tenant; via: Via } | Refusal;

/** Strips the port (and IPv6 brackets stay intact) from a Host header. */
export function hostnameOf(host: string): string {
  if (host.startsWith('[')) return host.slice(0, host.indexOf(']') + 1);
  const colon = host.lastIndexOf(':');
  return colon === -1 ? host : host.slice(0, colon);
}

/** Whether responses can depend on the tenant header (and so must `Vary` on it). */
export function headerStrategyEnabled(config: AtriumConfig): boolean {
  return config.multiTenancy.enabled && config.multiTenancy.extractionPriority.includes('header');
}

function refuse(code: Refusal['code'], status: number, description: string): Refusal {
  return { kind: 'refused', code, status, description };
}

function unknownTenant(config: AtriumConfig): Refusal {
  return refuse('unknown_tenant', config.env === 'development' ? 404 : 400, 'no tenant is served at this address');
}

export async function resolveTenant(input: ResolveInput, config: AtriumConfig, registry: TenantRegistry): Promise<Resolution> {
  if (!config.multiTenancy.enabled) {
    const tenant = await registry.bySlug(DEFAULT_TENANT);
    return tenant ? { kind: 'tenant', tenant, via: 'single-tenant' } : unknownTenant(config);
  }
  const host = parseRequestHost(input.host);
  if (!host) return refuse('invalid_host', 400, 'the Host header is not a valid host name');
  const headerName = config.multiTenancy.tenantHeader;
  const header = headerStrategyEnabled(config) ? input.header : undefined;
  if (header !== undefined && !isValidSlug(header)) {
    return refuse('invalid_tenant', 400, `the ${headerName} header must be a tenant slug: lowercase letters, digits, "-" and "_", at most 63 characters`);
  }
  const strategies = config.multiTenancy.extractionPriority;
  const label = strategies.includes('subdomain') ? subdomainLabel(host.hostname, config) : undefined;
  if (label !== undefined && !isValidSlug(label)) return refuse('invalid_tenant', 400, 'the subdomain is not a tenant slug');

  const byName = (slug: string | undefined) => (slug !== undefined && servedByName(slug, config) ? registry.bySlug(slug) : undefined);
  const byDomain = isForeignHost(host.hostname, config) ? await domainTenant(host.host, host.hostname, registry) : undefined;
  const bySubdomain = await byName(label);
  const byHeader = await byName(header);

  const byHost = byDomain ?? bySubdomain;
  if (byHost && byHeader && byHost.id !== byHeader.id) {
    return refuse('tenant_conflict', 400, `the host names tenant "${byHost.slug}" but the ${headerName} header names tenant "${byHeader.slug}"`);
  }
  if (byDomain) return { kind: 'tenant', tenant: byDomain, via: 'domain' };
  for (const strategy of strategies) {
    const tenant = strategy === 'header' ? byHeader : bySubdomain;
    if (tenant) return { kind: 'tenant', tenant, via: strategy };
  }
  // The caller asked for a tenant by header and there is none: answering as the platform
  // (or the fallback) would hand it another tenant's documents under its own request.
  if (header !== undefined) return unknownTenant(config);

  if (host.hostname === config.publicUrl.hostname) {
    const platform = await registry.bySlug(platformTenantSlug(config));
    if (platform) return { kind: 'tenant', tenant: platform, via: 'platform-host' };
  }
  if (config.env === 'development') {
    const fallback = await registry.bySlug(DEFAULT_TENANT);
    if (fallback) return { kind: 'tenant', tenant: fallback, via: 'fallback' };
  }
  return unknownTenant(config);
}

/**
 * Reserved tenants are reachable only where they live, never by a header or subdomain.
 * `default` is the single-tenant mode and the development fallback; by name only while developing.
 */
function servedByName(slug: string, config: AtriumConfig): boolean {
  if (slug === OPS_TENANT || slug === PLATFORM_TENANT) return false;
  return slug !== DEFAULT_TENANT || config.env === 'development';
}

async function domainTenant(host: string, hostname: string, registry: TenantRegistry): Promise<Tenant | undefined> {
  return (await registry.byDomain(host)) ?? (host !== hostname ? await registry.byDomain(hostname) : undefined);
}
