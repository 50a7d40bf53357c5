/**
 * The Host a request names, read strictly, and whether this deployment serves it.
 *
 * Why strict: the host decides the tenant, and before URLs were pinned to the issuer it
 * decided the URLs Atrium wrote too. Anything that is not plainly `name[:port]` (userinfo,
 * a second value, a trailing dot, a port out of range, non-ASCII) is refused rather than
 * "repaired", so no two spellings of one host can be told apart downstream.
 */
import type { AtriumConfig } from '../config/env.ts';
import type { TenantRegistry } from './tenant-registry.ts';

export interface RequestHost {
  /** `hostname[:port]`, lowercased, as sent. */
  host: string;
  /** Without the port; IPv6 literals keep their brackets. */
  hostname: string;
}

// One DNS-style label. `_` is allowed inside, since slugs (and so tenant subdomains) allow it.
const LABEL = '[a-z0-9][a-z0-9_-]{0,62}';
const NAME = new RegExp(`^${LABEL}(?:\\.${LABEL})*$`);
const IPV6 = /^\[[0-9a-f:.]{2,45}\]$/;

/** The host, or undefined when the value is not a well-formed `hostname[:port]`. */
export function parseRequestHost(raw: string | undefined): RequestHost | undefined {
  if (!raw || raw.length > 260) return undefined;
  const value = raw.toLowerCase();
  const bracket = value.startsWith('[') ? value.indexOf(']') : -1;
  const colon = value.indexOf(':', bracket + 1);
  const hostname = colon === -1 ? value : value.slice(0, colon);
  const port = colon === -1 ? undefined : value.slice(colon + 1);
  if (port !== undefined && (!/^[1-9]\d{0,4}$/.test(port) || Number(port) > 65_535)) return undefined;
  if (hostname.length > 253) return undefined;
  if (bracket !== -1 ? !IPV6.test(hostname) || !isIpv6Literal(hostname) : !NAME.test(hostname)) return undefined;
  return { host: value, hostname };
}

function isIpv6Literal(bracketed: string): boolean {
  try {
    new URL(`http://${bracketed}/`);
    return true;
  } catch {
    return false;
  }
}

/** The single label left of PUBLIC_URL's host (`acme` of `acme.id.example`), if the host is one. */
export function subdomainLabel(hostname: string, config: AtriumConfig): string | undefined {
  const base = config.publicUrl.hostname;
  if (!hostname.endsWith(`.${base}`)) return undefined;
  const label = hostname.slice(0, -(base.length + 1));
  return label.includes('.') ? undefined : label;
}

/** Whether the host is not PUBLIC_URL's host nor below it: only such a host can be a custom domain. */
export function isForeignHost(hostname: string, config: AtriumConfig): boolean {
  const base = config.publicUrl.hostname;
  return hostname !== base && !hostname.endsWith(`.${base}`);
}

/**
 * Whether this deployment serves the host: PUBLIC_URL's host, a tenant subdomain (when
 * multi-tenant; whether the tenant exists is resolution's question), or a tenant's custom
 * domain (matched with its port first, as development domains carry one).
 */
export async function isServedHost(host: RequestHost, config: AtriumConfig, registry: TenantRegistry): Promise<boolean> {
  if (host.hostname === config.publicUrl.hostname) return true;
  if (config.multiTenancy.enabled && subdomainLabel(host.hostname, config) !== undefined) return true;
  if (!isForeignHost(host.hostname, config)) return false;
  return Boolean((await registry.byDomain(host.host)) ?? (host.host !== host.hostname ? await registry.byDomain(host.hostname) : undefined));
}

/**
 * The host a request was sent to, as Koa reads it (never X-Forwarded-Host, which the edge drops;
 * HTTP/2's :authority) but unrepaired: no userinfo stripping, and a Host with
 * several values stays one (invalid) value.
 */
export function requestHostOf(req: { headers: Record<string, string | string[] | undefined>; httpVersionMajor: number }): string {
  // X-Forwarded-Host is never honoured: the edge removes it (http/client-address.ts).
  const authority = req.httpVersionMajor >= 2 ? req.headers[':authority'] : undefined;
  const host = typeof authority === 'string' && authority ? authority : req.headers.host;
  return typeof host === 'string' ? host : '';
}
