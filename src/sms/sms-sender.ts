/**
 * Sends a text message with the tenant's provider (`notifications.sms`), through the egress
 * guard, to the provider's public host or the operator's stand-in (SMS_PROVIDER_URLS). A
 * failure is an SmsError with the provider's reason; callers decide what it means (an alert
 * is logged and dropped; a phone verification code the user waits for is a 503).
 */
import type { Logger } from 'pino';
import type { AtriumConfig } from '../config/env.ts';
import type { EgressGuard } from '../core/egress-guard.ts';
import type { SecretBox } from '../core/secret-box.ts';
import type { SmsProvider } from '../config/tenant-config-schema.ts';
import { mergedSection, openTenantSecret } from '../tenancy/tenant-config.ts';
import type { Tenant } from '../tenancy/tenant.ts';
import { PUBLIC_ORIGINS, smsRefusal, smsRequest, type SmsAccount } from './sms-providers.ts';

export class SmsError extends Error {
  override readonly name = 'SmsError';
}

const TIMEOUT_MS = 10_000;

interface SmsSettings { enabled?: boolean; provider?: SmsProvider; account_id?: string; from?: string }

export class SmsSender {
  readonly #config: Pick<AtriumConfig, 'providerOrigins'>;
  readonly #egress: EgressGuard;
  readonly #box: SecretBox;
  readonly #log: Logger;

  constructor(deps: { config: Pick<AtriumConfig, 'providerOrigins'>; egress: EgressGuard; box: SecretBox; log: Logger }) {
    this.#config = deps.config;
    this.#egress = deps.egress;
    this.#box = deps.box;
    this.#log = deps.log;
  }

  /** Whether the tenant has SMS switched on (and so complete: the configuration API refuses it otherwise). */
  enabled(tenant: Tenant): boolean {
    return this.#account(tenant) !== undefined;
  }

  /** Sends `text` to `to` (E.164); rejects with SmsError when SMS is off or the provider refuses. */
  async send(tenant: Tenant, to: string, text: string): Promise<void> {
    const account = this.#account(tenant);
    if (!account) throw new SmsError('SMS is not enabled for this tenant');
    const origin = this.#config.providerOrigins.sms[account.provider] ?? PUBLIC_ORIGINS[account.provider];
    const { url, init } = smsRequest(account, origin, to, text);
    let status: number;
    let body: unknown;
    try {
      const res = await this.#egress.fetch(url, { ...init, timeoutMs: TIMEOUT_MS, maxBytes: 64 * 1024 });
      status = res.status;
      body = await res.json().catch(() => undefined);
    } catch (err) {
      this.#log.warn({ err, tenant: tenant.slug, provider: account.provider }, 'text message not sent: the provider could not be reached');
      throw new SmsError(`${account.provider} could not be reached`, { cause: err });
    }
    const refusal = smsRefusal(account.provider, status, body);
    if (refusal) {
      this.#log.warn({ tenant: tenant.slug, provider: account.provider, status }, `text message not sent: ${refusal}`);
      throw new SmsError(refusal);
    }
  }

  /** Sends in the background: for alerts, which must never hold up or fail what they report. */
  sendLater(tenant: Tenant, to: string, text: string): void {
    this.send(tenant, to, text).catch(() => {
      /* logged in send() */
    });
  }

  #account(tenant: Tenant): SmsAccount | undefined {
    const sms = mergedSection(tenant, 'notifications').sms as SmsSettings | undefined;
    if (!sms?.enabled || !sms.provider || !sms.account_id || !sms.from) return undefined;
    const secret = openTenantSecret(this.#box, tenant, 'notifications.sms.auth_token');
    if (!secret) return undefined;
    return { provider: sms.provider, accountId: sms.account_id, secret, from: sms.from };
  }
}
