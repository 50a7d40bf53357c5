/**
 * The DNS Atrium asks for outbound connections and domain verification. DNS_SERVERS points
 * it at chosen servers (node:dns Resolver#setServers); unset, addresses come from the system
 * (getaddrinfo, so /etc/hosts counts) and TXT records from the system's servers. In
 * development `localhost` and `*.localhost` are loopback (RFC 6761; browsers do the same,
 * Node's resolver does not), so a tenant can federate to another tenant of a local Atrium.
 */
import dns from 'node:dns';
import net from 'node:net';
import type { AtriumConfig } from '../config/env.ts';

export interface ResolvedAddress {
  readonly address: string;
  readonly family: 4 | 6;
}

const TIMEOUT_MS = 5_000;

export class DnsResolver {
  readonly #resolver: dns.promises.Resolver;
  readonly #custom: boolean;
  readonly #localhostIsLoopback: boolean;

  constructor(config: Pick<AtriumConfig, 'env' | 'dnsServers'>) {
    // One try with a timeout: a dead server must not hold a request for the default 4 × 5 s.
    this.#resolver = new dns.promises.Resolver({ timeout: TIMEOUT_MS, tries: 1 });
    this.#custom = Boolean(config.dnsServers?.length);
    if (config.dnsServers?.length) this.#resolver.setServers([...config.dnsServers]);
    this.#localhostIsLoopback = config.env === 'development';
  }

  /** Every address of a host name (an IP literal is its own address). */
  async addresses(hostname: string): Promise<ResolvedAddress[]> {
    const name = hostname.replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '').toLowerCase();
    const family = net.isIP(name);
    if (family) return [{ address: name, family: family as 4 | 6 }];
    if (this.#localhostIsLoopback && (name === 'localhost' || name.endsWith('.localhost'))) return [{ address: '127.0.0.1', family: 4 }];
    if (!this.#custom) {
      const all = await dns.promises.lookup(name, { all: true, verbatim: true });
      return all.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));
    }
    const [v4, v6] = await Promise.allSettled([this.#resolver.resolve4(name), this.#resolver.resolve6(name)]);
    const found: ResolvedAddress[] = [
      ...(v4.status === 'fulfilled' ? v4.value.map((address) => ({ address, family: 4 as const })) : []),
      ...(v6.status === 'fulfilled' ? v6.value.map((address) => ({ address, family: 6 as const })) : []),
    ];
    if (found.length === 0) throw Object.assign(new Error(`no address for ${name}`), { code: 'ENOTFOUND' });
    return found;
  }

  /** The TXT records at a name, each joined from its strings; none → []. */
  async txt(name: string): Promise<string[]> {
    try {
      return (await this.#resolver.resolveTxt(name)).map((chunks) => chunks.join(''));
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === dns.NODATA || code === dns.NOTFOUND) return [];
      throw err;
    }
  }
}
