/**
 * Phone numbers as Atrium stores and sends them: E.164 (`+` and the full international
 * number), checked by libphonenumber-js against each country's numbering plan rather than by
 * a pattern, so "+1 555 0100" (not a valid North American number) and a number of the wrong
 * length for its country are refused, while spaces and dashes a person types are accepted
 * and normalized away.
 */
import { parsePhoneNumberFromString } from 'libphonenumber-js/max';

/** The E.164 form of `input`, or undefined when it is not a valid, internationally written phone number. */
export function e164(input: string): string | undefined {
  const trimmed = input.trim();
  // International form only: without a country there is no way to tell which plan applies.
  if (!trimmed.startsWith('+') || trimmed.length > 40) return undefined;
  const parsed = parsePhoneNumberFromString(trimmed);
  if (!parsed || !parsed.isValid()) return undefined;
  return parsed.number;
}

/** Whether `input` is already exactly an E.164 number (what the configuration stores). */
export function isE164(input: string): boolean {
  return e164(input) === input;
}

/** The number with all but its last two digits hidden, for pages and audit details. */
export function maskedPhone(number: string): string {
  return `${number.slice(0, 3)}${'•'.repeat(Math.max(0, number.length - 5))}${number.slice(-2)}`;
}
