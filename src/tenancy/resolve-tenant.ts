/**
 * Which tenant a request is for. Custom domains (an exact host match) always come first;
 * then the configured strategies in order (`header`, `subdomain`); the first that names
 * an existing tenant wins. The bare PUBLIC_URL host is the platform tenant.
 */
import type { AtriumConfig } from '../config/env.ts';
import type { Tenant } from './tenant.ts';
import { platformTenantSlug } from './tenant.ts';
import type { TenantRegistry } from './tenant-registry.ts';
import { DEFAULT_TENANT, OPS_TENANT, PLATFORM_TENANT, isValidSlug } from './slug.ts';

export interface ResolveInput {
  /** Host header, lowercased, port included as sent. */
  host: string;
  /** Value of the configured tenant header, if any. */
  headerSlug: string | undefined;
}

export type Resolution =
  | { kind: 'tenant'; tenant: Tenant; via: 'single-tenant' | 'domain' | 'header' | 'subdomain' | 'platform-host' | 'fallback' }
  | { kind: 'unresolved' };

/** Strips the port (and IPv6 brackets stay intact) from a Host header. */
export function hostnameOf(host: string): string {
  if (host.startsWith('[')) return host.slice(0, host.indexOf(']') + 1);
  const colon = host.lastIndexOf(':');
  return colon === -1 ? host : host.slice(0, colon);
}

export async function resolveTenant(input: ResolveInput, config: AtriumConfig, registry: TenantRegistry): Promise<Resolution> {
  if (!config.multiTenancy.enabled) {
    const tenant = await registry.bySlug(DEFAULT_TENANT);
    return tenant ? { kind: 'tenant', tenant, via: 'single-tenant' } : { kind: 'unresolved' };
  }
  const host = input.host.toLowerCase();
  const hostname = hostnameOf(host);
  const baseHostname = config.publicUrl.hostname;

  if (hostname !== baseHostname && !hostname.endsWith(`.${baseHostname}`)) {
    const byDomain = (await registry.byDomain(host)) ?? (host !== hostname ? await registry.byDomain(hostname) : undefined);
    if (byDomain) return { kind: 'tenant', tenant: byDomain, via: 'domain' };
  }

  for (const strategy of config.multiTenancy.extractionPriority) {
    const slug = strategy === 'header' ? input.headerSlug?.trim().toLowerCase() : subdomainSlug(hostname, baseHostname);
    // Reserved tenants are reachable only where they live: never through a header or subdomain.
    if (!slug || slug === OPS_TENANT || slug === PLATFORM_TENANT || !isValidSlug(slug)) continue;
    const tenant = await registry.bySlug(slug);
    if (tenant) return { kind: 'tenant', tenant, via: strategy };
  }

  if (hostname === baseHostname) {
    const platform = await registry.bySlug(platformTenantSlug(config));
    if (platform) return { kind: 'tenant', tenant: platform, via: 'platform-host' };
  }

  if (config.env === 'development') {
    const fallback = await registry.bySlug(DEFAULT_TENANT);
    if (fallback) return { kind: 'tenant', tenant: fallback, via: 'fallback' };
  }
  return { kind: 'unresolved' };
}

function subdomainSlug(hostname: string, baseHostname: string): string | undefined {
  if (!hostname.endsWith(`.${baseHostname}`)) return undefined;
  const label = hostname.slice(0, -(baseHostname.length + 1));
  return label.includes('.') ? undefined : label;
}
