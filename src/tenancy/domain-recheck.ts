/**
 * A verified custom domain must keep proving control: every DOMAIN_RECHECK_INTERVAL_MS its
 * challenge is checked again. After three failures in a row it becomes `unverified` and is
 * reported (an audit event in its tenant, a warning in the log, the
 * atrium_custom_domain_rechecks_total{outcome="unverified"} metric) but keeps routing: a DNS
 * hiccup must not take a tenant's login page down, and dropping the issuer silently would
 * break every relying party. The tenant re-proves with `POST …/verify` (or the next
 * successful re-check), or removes the domain. Rows are claimed by stamping their check
 * time, so instances re-checking at once never check one domain twice.
 */
import type { Logger } from 'pino';
import type { Metrics } from '../core/metrics.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import { findEgressRefusal } from '../core/egress-guard.ts';
import type { DomainStore } from './domain-store.ts';
import type { DomainChallenges } from './domain-verification.ts';
import { runAsTenant } from '../core/request-context.ts';

const FAILURES_BEFORE_UNVERIFIED = 3;
const BATCH = 100;

export interface DomainRecheckDeps {
  store: DomainStore;
  challenges: DomainChallenges;
  audit: AuditLog;
  metrics: Pick<Metrics, 'domainRechecks'>;
  log: Logger;
}

export class DomainRechecker {
  readonly #deps: DomainRecheckDeps;
  readonly #intervalMs: number;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;

  constructor(deps: DomainRecheckDeps, intervalMs: number) {
    this.#deps = deps;
    this.#intervalMs = intervalMs;
  }

  /** Checks due domains every tenth of the interval (0: never). */
  start(): this {
    if (this.#intervalMs > 0) {
      this.#timer = setInterval(() => void this.recheckAll().catch((err: unknown) => this.#deps.log.error({ err }, 'custom domain re-check failed')), Math.max(1_000, Math.floor(this.#intervalMs / 10)));
      this.#timer.unref();
    }
    return this;
  }

  /** Re-checks every domain due (`force`: every routed domain, whenever it was checked). */
  async recheckAll(options: { force?: boolean } = {}): Promise<void> {
    this.#running ??= this.#run(options.force ? 0 : this.#intervalMs).finally(() => (this.#running = undefined));
    return this.#running;
  }

  async #run(intervalMs: number): Promise<void> {
    const seen = new Set<string>();
    for (;;) {
      const due = (await this.#deps.store.claimDue(intervalMs, BATCH)).filter((d) => !seen.has(`${d.tenantId} ${d.domain}`));
      if (due.length === 0) return;
      for (const domain of due) {
        seen.add(`${domain.tenantId} ${domain.domain}`);
        await this.#recheck(domain);
      }
    }
  }

  async #recheck(domain: Awaited<ReturnType<DomainStore['claimDue']>>[number]): Promise<void> {
    const { store, challenges, audit, metrics, log } = this.#deps;
    let ok: boolean;
    try {
      ok = (await challenges.check(domain)).ok;
    } catch (err) {
      // An internal address proves nothing; anything else unexpected counts as a failure too.
      if (!findEgressRefusal(err)) log.warn({ err, domain: domain.domain }, 'custom domain re-check error');
      ok = false;
    }
    const status = await store.recordCheck(domain.tenantId, domain.domain, ok, FAILURES_BEFORE_UNVERIFIED);
    if (!status) return;
    const changed = status !== domain.status;
    metrics.domainRechecks.inc({ outcome: ok ? 'verified' : changed ? 'unverified' : 'failed' });
    if (!changed) return;
    if (status === 'unverified') log.warn({ domain: domain.domain, tenantId: domain.tenantId }, 'custom domain no longer proves control: reported as unverified, still served');
    await runAsTenant(domain.tenantId, () =>
      audit.record({ action: status === 'unverified' ? 'tenant.domain_unverified' : 'tenant.domain_reverified', actor: 'system:domain-recheck', target: domain.domain, outcome: status === 'unverified' ? 'failure' : 'success' }),
    );
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#running;
  }
}
