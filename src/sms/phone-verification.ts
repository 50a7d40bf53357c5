/**
 * Verifying a user's phone number (from /account): a 6-digit code is texted to the number
 * the user types (E.164, checked by libphonenumber-js), and the number becomes theirs when
 * they type the code back within ten minutes and five attempts. Only a verified number is
 * ever texted security alerts. Sending needs the tenant's SMS (notifications.sms): off, the
 * step is not offered; the provider failing is a 503, the one place an SMS failure is the
 * user's answer, because the code is what they are waiting for. Every change is audited.
 */
import { randomInt } from 'node:crypto';
import type { AuditLog } from '../audit/audit-log.ts';
import { AppError } from '../core/errors.ts';
import { e164, maskedPhone } from '../config/phone-number.ts';
import { phoneCodeHash, type CodeCheck, type PhoneStore, type UserPhone } from '../accounts/phone-store.ts';
import type { Tenant } from '../tenancy/tenant.ts';
import { SmsError, type SmsSender } from './sms-sender.ts';

export const PHONE_CODE_TTL_SECONDS = 600;
/** At most one code per number request every 30 seconds. */
export const PHONE_CODE_SPACING_SECONDS = 30;

export class PhoneVerification {
  readonly #phones: PhoneStore;
  readonly #sms: SmsSender;
  readonly #audit: AuditLog;

  constructor(deps: { phones: PhoneStore; sms: SmsSender; audit: AuditLog }) {
    this.#phones = deps.phones;
    this.#sms = deps.sms;
    this.#audit = deps.audit;
  }

  /** Whether the tenant can verify phone numbers at all (its SMS is on). */
  offered(tenant: Tenant): boolean {
    return this.#sms.enabled(tenant);
  }

  /** Texts a code to `input` for `userId`; answers the number in E.164. */
  async start(tenant: Tenant, userId: string, input: string): Promise<string> {
    if (!this.offered(tenant)) throw new AppError('sms_disabled', 400, 'text messages are not enabled for this tenant');
    const phone = e164(input);
    if (!phone) throw new AppError('invalid_request', 400, 'phone: must be a valid phone number in international form, starting with + and the country code (e.g. +14155552671)', { messageKey: 'account.phone_invalid' });
    const code = String(randomInt(0, 1_000_000)).padStart(6, '0');
    if (!(await this.#phones.startVerification(userId, phone, phoneCodeHash(userId, phone, code), PHONE_CODE_TTL_SECONDS, PHONE_CODE_SPACING_SECONDS))) {
      throw new AppError('rate_limited', 429, 'a code was sent moments ago; wait before asking for another', { headers: { 'retry-after': String(PHONE_CODE_SPACING_SECONDS) }, messageKey: 'account.phone_wait' });
    }
    try {
      await this.#sms.send(tenant, phone, `${code} is your ${tenant.name} verification code. It expires in 10 minutes.`);
    } catch (err) {
      if (!(err instanceof SmsError)) throw err;
      await this.#audit.record({ action: 'user.phone_code_failed', outcome: 'failure', target: userId, details: { phone: maskedPhone(phone), reason: err.message } });
      throw new AppError('temporarily_unavailable', 503, 'the text message could not be sent; try again shortly', { headers: { 'retry-after': '5' }, messageKey: 'account.phone_send_failed' });
    }
    await this.#audit.record({ action: 'user.phone_code_sent', target: userId, details: { phone: maskedPhone(phone) } });
    return phone;
  }

  /** The user's number and any verification under way (for /account). */
  status(userId: string): Promise<UserPhone | undefined> {
    return this.#phones.phoneOf(userId);
  }

  async confirm(userId: string, code: string): Promise<CodeCheck> {
    const result = /^\d{6}$/.test(code.trim()) ? await this.#phones.confirm(userId, code.trim()) : 'wrong';
    await this.#audit.record({ action: result === 'verified' ? 'user.phone_verified' : 'user.phone_verification_failed', outcome: result === 'verified' ? 'success' : 'failure', target: userId, details: { result } });
    return result;
  }

  async remove(userId: string): Promise<boolean> {
    const removed = await this.#phones.remove(userId);
    if (removed) await this.#audit.record({ action: 'user.phone_removed', target: userId });
    return removed;
  }
}
