/**
 * What counts as one device, for the new-sign-in mail (mail/new-device-alert.ts) and the
 * sessions list (user-sessions.ts): the tenant's `security.device_matching`.
 *
 * - Off (the default): the browser and operating system named by the User-Agent ("Firefox ·
 *   Linux"). A laptop that moves between home, office and phone tethering stays one device,
 *   so the mail means something when it comes. Updates of the browser keep it one device too.
 * - On: also the network it signs in from, an IPv4 /24 or an IPv6 /64 (the usual size of one
 *   site's or one subscriber's allocation). The same browser somewhere new is then news,
 *   which tenants that want to hear about travel ask for; a new address in the same network
 *   (DHCP, privacy addresses) is not.
 *
 * Neither is a fingerprint: both only group what the browser tells every site anyway, and
 * the stored record is a hash of the description.
 */
import { createHash } from 'node:crypto';
import ipaddr from 'ipaddr.js';
import { perTenantRecord } from '../tenancy/per-tenant-record.ts';
import { mergedSection } from '../tenancy/tenant-config.ts';
import type { Tenant } from '../tenancy/tenant.ts';

/** Whether the tenant counts the network as part of a device. Once per tenant record. */
export const matchesNetwork = perTenantRecord((tenant: Pick<Tenant, 'config'>): boolean => mergedSection(tenant, 'security').device_matching === true);

/** Browser and operating system, from a User-Agent: what a person would call the device. */
export function describeUserAgent(userAgent: string | null): string {
  if (!userAgent) return '';
  const browser = /Edg\//.test(userAgent) ? 'Edge'
    : /Firefox\//.test(userAgent) ? 'Firefox'
    : /(Chrome|Chromium)\//.test(userAgent) ? 'Chrome'
    : /Safari\//.test(userAgent) ? 'Safari'
    : userAgent.split(/[\s/]/)[0]!.slice(0, 40);
  const os = /Android/.test(userAgent) ? 'Android'
    : /iPhone|iPad|iOS/.test(userAgent) ? 'iOS'
    : /Windows/.test(userAgent) ? 'Windows'
    : /Mac OS X|Macintosh/.test(userAgent) ? 'macOS'
    : /Linux/.test(userAgent) ? 'Linux'
    : '';
  return os ? `${browser} · ${os}` : browser;
}

/** The network of an address: its IPv4 /24 or IPv6 /64 (an IPv4-mapped IPv6 address as IPv4); undefined when not an address. */
export function networkOf(ip: string | null): string | undefined {
  if (!ip || !ipaddr.isValid(ip)) return undefined;
  let address = ipaddr.parse(ip);
  if (address.kind() === 'ipv6' && (address as ipaddr.IPv6).isIPv4MappedAddress()) address = (address as ipaddr.IPv6).toIPv4Address();
  const bits = address.kind() === 'ipv4' ? 24 : 64;
  const prefix = ipaddr.fromByteArray(address.toByteArray().map((byte, i) => (i * 8 >= bits ? 0 : byte)));
  return `${prefix.toString()}/${bits}`;
}

export interface Device {
  /** Shown to the user: "Firefox · Linux", with " · 203.0.113.0/24" when the network counts. */
  label: string;
  /** What is stored to recognise it again. */
  hash: string;
}

export function deviceOf(userAgent: string | null, ip: string | null, withNetwork: boolean): Device {
  const network = withNetwork ? networkOf(ip) : undefined;
  const browser = describeUserAgent(userAgent);
  const label = network ? `${browser} · ${network}` : browser;
  return { label, hash: createHash('sha256').update(label).digest('base64url') };
}
