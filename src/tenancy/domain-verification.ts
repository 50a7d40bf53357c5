/**
 * Proof of control of a custom domain: a DNS TXT record at `_atrium-challenge.<host>` whose
 * value is the domain's token, or `http://<domain>/.well-known/atrium-challenge/<token>`
 * answering the token. Either suffices. DNS is asked through the configured resolver
 * (DNS_SERVERS); the HTTP token is fetched through the egress guard, so a domain that
 * resolves inside the deployment is refused (`EgressRefusedError`), not fetched.
 */
import type { DnsResolver } from '../core/dns-resolver.ts';
import { EgressFailedError, type EgressGuard } from '../core/egress-guard.ts';
import type { TenantDomain } from './domain-store.ts';

export const CHALLENGE_LABEL = '_atrium-challenge';
export const CHALLENGE_PATH = '/.well-known/atrium-challenge/';

export interface Challenge {
  dns: { name: string; type: 'TXT'; value: string };
  http: { url: string; body: string };
}

/** Where the tenant publishes the proof for `domain` (host[:port] in development). */
export function challengeFor(domain: Pick<TenantDomain, 'domain' | 'challengeToken'>): Challenge {
  const hostname = domain.domain.replace(/:\d+$/, '');
  return {
    dns: { name: `${CHALLENGE_LABEL}.${hostname}`, type: 'TXT', value: domain.challengeToken },
    http: { url: `http://${domain.domain}${CHALLENGE_PATH}${domain.challengeToken}`, body: domain.challengeToken },
  };
}

export interface ChallengeResult {
  ok: boolean;
  /** What was found, in words for the caller (no network details: those are logged by the guard). */
  dns: string;
  http: string;
}

export class DomainChallenges {
  readonly #dns: DnsResolver;
  readonly #egress: EgressGuard;

  constructor(dns: DnsResolver, egress: EgressGuard) {
    this.#dns = dns;
    this.#egress = egress;
  }

  /** Checks DNS first, then HTTP. Throws EgressRefusedError when the HTTP target is internal. */
  async check(domain: Pick<TenantDomain, 'domain' | 'challengeToken'>): Promise<ChallengeResult> {
    const challenge = challengeFor(domain);
    const dns = await this.#checkDns(challenge);
    if (dns === true) return { ok: true, dns: 'the TXT record holds the token', http: 'not needed' };
    const http = await this.#checkHttp(challenge);
    return { ok: http === true, dns, http: http === true ? 'the token was served' : http };
  }

  async #checkDns(challenge: Challenge): Promise<true | string> {
    try {
      const values = await this.#dns.txt(challenge.dns.name);
      if (values.some((v) => v.trim() === challenge.dns.value)) return true;
      return values.length ? `no TXT record at ${challenge.dns.name} holds the token` : `no TXT record at ${challenge.dns.name}`;
    } catch {
      return `the TXT records of ${challenge.dns.name} could not be read`;
    }
  }

  async #checkHttp(challenge: Challenge): Promise<true | string> {
    try {
      const res = await this.#egress.fetch(challenge.http.url, { timeoutMs: 5_000, maxBytes: 1024, headers: { accept: 'text/plain' } });
      if (!res.ok) {
        await res.body?.cancel();
        return `${challenge.http.url} answered ${res.status}`;
      }
      return (await res.text()).trim() === challenge.http.body ? true : `${challenge.http.url} did not answer the token`;
    } catch (err) {
      if (err instanceof EgressFailedError) return `${challenge.http.url} could not be reached`;
      throw err;
    }
  }
}
