/**
 * Security alerts by text message, beside the mail: sent only to a user's verified phone
 * number, only when the tenant has SMS on and wants that alert, and always in the
 * background: a provider that is down or refuses never holds up or fails the sign-in or
 * change being reported (sms-sender.ts logs it).
 */
import type { PhoneStore } from '../accounts/phone-store.ts';
import type { Tenant } from '../tenancy/tenant.ts';
import type { SmsSender } from './sms-sender.ts';

export type AlertText = 'new_device' | 'password_changed' | 'mfa_changed';

const TEXTS: Record<AlertText, (brand: string) => string> = {
  new_device: (brand) => `${brand}: your account was just signed in to from a new device. If this was not you, change your password now.`,
  password_changed: (brand) => `${brand}: your password was changed. If this was not you, reset it now and contact your administrator.`,
  mfa_changed: (brand) => `${brand}: the two-step verification of your account changed. If this was not you, contact your administrator.`,
};

export class SmsAlerts {
  readonly #phones: PhoneStore;
  readonly #sms: SmsSender;
  constructor(deps: { phones: PhoneStore; sms: SmsSender }) {
    this.#phones = deps.phones;
    this.#sms = deps.sms;
  }

  /** Texts the alert to the user with this email, when they have a verified number (tenant in context). Never rejects. */
  async alert(tenant: Tenant, email: string, kind: AlertText): Promise<void> {
    if (!this.#sms.enabled(tenant)) return;
    try {
      const phone = await this.#phones.verifiedPhoneOf(email);
      if (phone) this.#sms.sendLater(tenant, phone, TEXTS[kind](tenant.name));
    } catch {
      // A database hiccup looking up the number must not fail what the alert reports.
    }
  }
}
