/**
 * What a custom domain may be: a DNS hostname (at least two labels, letters, digits and
 * hyphens, not an IP address), lowercased, with a `:port` only in development (where
 * tenants are reached on local ports). PUBLIC_URL's own host and its subdomains are
 * refused: those hosts resolve by slug and never look at custom domains.
 */
import type { AtriumConfig } from '../config/env.ts';
import { badRequest } from '../core/errors.ts';

const LABEL = '[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?';
const HOSTNAME = new RegExp(`^(?:${LABEL}\\.)+${LABEL}$`);

/** The normalized domain, or a 400 that says what is wrong. */
export function parseCustomDomain(input: string, config: AtriumConfig): string {
  const value = input.trim().toLowerCase();
  const match = /^([^:]*)(?::(\d{1,5}))?$/.exec(value);
  const hostname = match?.[1] ?? '';
  const port = match?.[2];
  if (!match || hostname.length > 253 || !HOSTNAME.test(hostname)) {
    throw badRequest('domain must be a hostname such as login.example.com (no scheme, path or wildcard)', 'invalid_domain');
  }
  if (/^\d+$/.test(hostname.slice(hostname.lastIndexOf('.') + 1))) throw badRequest('domain must be a hostname, not an IP address', 'invalid_domain');
  if (port !== undefined) {
    if (config.env !== 'development') throw badRequest('a port in a custom domain is allowed only in development', 'invalid_domain');
    if (port.startsWith('0') || Number(port) > 65_535) throw badRequest('the port must be 1-65535', 'invalid_domain');
  }
  const base = config.publicUrl.hostname;
  if (hostname === base || hostname.endsWith(`.${base}`)) {
    throw badRequest(`domain must not be ${base} or one of its subdomains: those resolve tenants by slug`, 'invalid_domain');
  }
  return port === undefined ? hostname : `${hostname}:${port}`;
}
