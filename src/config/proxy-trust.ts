/** TRUST_PROXY: whose X-Forwarded-For/-Proto headers to believe. */
import { z } from 'zod';
import proxyaddr from 'proxy-addr';

/**
 * Which peers' X-Forwarded-* headers are believed (http/client-address.ts applies it).
 * `hops`: how many addresses from the right of [X-Forwarded-For..., peer] may be proxies;
 * `proxies`: the addresses a proxy must have (undefined: any, the operator vouches that
 * only the proxies can connect). No trust is `{ hops: 0 }`.
 */
export interface ProxyTrust {
  readonly hops: number;
  readonly proxies: readonly string[] | undefined;
}

/** The legacy `TRUST_PROXY=true`: one proxy, which connects from a loopback or private address. */
const LEGACY_TRUE: ProxyTrust = { hops: 1, proxies: ['loopback', 'linklocal', 'uniquelocal'] };

/** `false`, `true` (see LEGACY_TRUE), a hop count, or a comma-separated list of proxy addresses/CIDRs. */
export const proxyTrust = z.string().transform((value, ctx): ProxyTrust => {
  const v = value.trim().toLowerCase();
  if (['false', 'no', '0'].includes(v)) return { hops: 0, proxies: undefined };
  if (['true', 'yes'].includes(v)) return LEGACY_TRUE;
  if (/^\d+$/.test(v)) {
    const hops = Number(v);
    if (hops > 10) ctx.addIssue({ code: 'custom', message: 'a hop count must be at most 10' });
    return { hops, proxies: undefined };
  }
  const proxies = v.split(',').map((s) => s.trim()).filter(Boolean);
  if (!proxies.length) ctx.addIssue({ code: 'custom', message: 'must be false, true, a hop count or a list of proxy addresses/CIDRs' });
  try {
    proxyaddr.compile(proxies);
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: `must be false, true, a hop count or a comma-separated list of proxy addresses/CIDRs (${(err as Error).message})` });
  }
  return { hops: Number.POSITIVE_INFINITY, proxies };
});
