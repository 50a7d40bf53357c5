/**
 * Comma-separated list settings of the environment that need more than a split: provider
 * stand-in origins and DNS servers (config/env.ts reads them).
 */
import net from 'node:net';
import { z } from 'zod';

/**
 * SOCIAL_PROVIDER_URLS / SMS_PROVIDER_URLS: `name=origin`, comma-separated. The operator's (and
 * the tests') stand-in for a provider's public hosts: one origin serves every path the provider
 * uses (e.g. GitHub's /login/oauth/authorize and its API's /user/emails). Never a tenant setting.
 */
export function providerOrigins<T extends string>(names: readonly T[]) {
  return z
    .string()
    .transform((v, ctx) => {
      const out: Partial<Record<T, string>> = {};
      for (const entry of v.split(',').map((s) => s.trim()).filter(Boolean)) {
        const eq = entry.indexOf('=');
        const name = entry.slice(0, eq) as T;
        const origin = URL.parse(entry.slice(eq + 1));
        if (eq < 1 || !names.includes(name)) ctx.addIssue({ code: 'custom', message: `"${entry.slice(0, Math.max(eq, 0)) || entry}" is not one of ${names.join(', ')}` });
        else if (!origin || !['http:', 'https:'].includes(origin.protocol) || origin.pathname !== '/' || origin.search) ctx.addIssue({ code: 'custom', message: `${name}: must be an http(s) origin without a path` });
        else out[name] = origin.origin;
      }
      return out;
    });
}

/** DNS_SERVERS: `ip` or `ip:port` or `[ipv6]:port`, comma-separated (what Resolver#setServers takes). */
export const dnsServers = z
  .string()
  .transform((v) => v.split(',').map((s) => s.trim()).filter(Boolean))
  .pipe(
    z.array(
      z.string().refine((s) => {
        const m = /^\[([^\]]+)\](?::(\d{1,5}))?$/.exec(s) ?? /^([^:]+)(?::(\d{1,5}))?$/.exec(s) ?? [s, s];
        return net.isIP(m[1] ?? '') !== 0 && (m[2] === undefined || Number(m[2]) <= 65_535);
      }, { message: 'entries must be IP addresses, optionally with :port' }),
    ).min(1),
  );
