/**
 * The two text-message APIs Atrium speaks, each as its documentation describes it:
 *
 *   Twilio  Messages API: POST {origin}/2010-04-01/Accounts/{AccountSid}/Messages.json, a form
 *           body (To, From or MessagingServiceSid, Body), HTTP Basic auth AccountSid:AuthToken;
 *           201 with the message resource, else a JSON error ({ code, message, status }).
 *   Vonage  SMS API: POST {origin}/sms/json, a form body (api_key, api_secret, from, to, text),
 *           `to` and a numeric `from` without the leading "+"; 200 with one entry per message
 *           part, each `status` "0" when accepted, else an `error-text`.
 *
 * Pure request builders and answer readers, so the exact bytes a provider receives are one
 * function each, and the sender (sms-sender.ts) owns the network.
 */
import type { SmsProvider } from '../config/tenant-config-schema.ts';

export const PUBLIC_ORIGINS: Readonly<Record<SmsProvider, string>> = { twilio: 'https://api.twilio.com', vonage: 'https://rest.nexmo.com' };

export interface SmsAccount {
  provider: SmsProvider;
  accountId: string;
  secret: string;
  from: string;
}

export interface SmsRequest {
  url: string;
  init: { method: 'POST'; headers: Record<string, string>; body: string };
}

const form = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };

export function smsRequest(account: SmsAccount, origin: string, to: string, text: string): SmsRequest {
  if (account.provider === 'twilio') {
    const body = new URLSearchParams({ To: to, ...(account.from.startsWith('MG') ? { MessagingServiceSid: account.from } : { From: account.from }), Body: text });
    return {
      url: `${origin}/2010-04-01/Accounts/${encodeURIComponent(account.accountId)}/Messages.json`,
      init: { method: 'POST', headers: { ...form, authorization: `Basic ${Buffer.from(`${account.accountId}:${account.secret}`).toString('base64')}` }, body: body.toString() },
    };
  }
  const body = new URLSearchParams({ api_key: account.accountId, api_secret: account.secret, from: account.from.replace(/^\+/, ''), to: to.replace(/^\+/, ''), text });
  return { url: `${origin}/sms/json`, init: { method: 'POST', headers: form, body: body.toString() } };
}

/** A field of a provider's JSON answer as text (numbers and strings; anything else is not what the docs promise). */
const field = (v: unknown): string => (typeof v === 'string' || typeof v === 'number' ? String(v) : '').slice(0, 200);

/** Why the provider did not take the message (its own words, no secrets), or undefined when it did. */
export function smsRefusal(provider: SmsProvider, status: number, body: unknown): string | undefined {
  const json = (body && typeof body === 'object' ? body : {}) as Record<string, unknown>;
  if (provider === 'twilio') {
    if (status >= 200 && status < 300) return undefined;
    return `Twilio answered ${status}${json.code ? ` (error ${field(json.code)}: ${field(json.message)})` : ''}`;
  }
  if (status < 200 || status >= 300) return `Vonage answered ${status}`;
  const messages = Array.isArray(json.messages) ? (json.messages as Record<string, unknown>[]) : [];
  if (messages.length === 0) return 'Vonage answered without a message status';
  const failed = messages.find((m) => m.status !== '0');
  return failed ? `Vonage refused the message (status ${field(failed.status)}: ${field(failed['error-text'])})` : undefined;
}
