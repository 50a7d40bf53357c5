/**
 * Mail templates: `views/mail/<template>.text.ejs` and `.html.ejs`, in the tenant's brand
 * and the reader's language (`locales/<lang>/mail.json`, subject `mail.<template>.subject`).
 * HTML mail cannot use the pages' stylesheets, so colours are inline, and only validated
 * hex colours reach them.
 */
import ejs from 'ejs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { mergedSection } from '../tenancy/tenant-config.ts';
import type { Tenant } from '../tenancy/tenant.ts';
import { brandFor } from '../tenancy/branding.ts';
import { negotiateLocale, SHIPPED_LOCALES, translator } from '../core/i18n.ts';

export const MAIL_TEMPLATES = ['verify-email', 'password-reset', 'invitation', 'new-sign-in', 'mfa-changed', 'password-changed', 'signup-attempt', 'signup-welcome'] as const;
export type MailTemplate = (typeof MAIL_TEMPLATES)[number];

const VIEWS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../views/mail');
const HEX = /^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$/;

export interface RenderedMail {
  subject: string;
  text: string;
  html: string;
  brandName: string;
}

export async function renderMail(tenant: Tenant, template: MailTemplate, locals: Record<string, unknown>, lang?: string): Promise<RenderedMail> {
  if (!MAIL_TEMPLATES.includes(template)) throw new Error(`unknown mail template ${String(template)}`);
  const application = mergedSection(tenant, 'application') as { default_locale?: string; available_locales?: string[] };
  const locale = negotiateLocale({ explicit: lang, available: application.available_locales ?? SHIPPED_LOCALES, defaultLocale: application.default_locale ?? 'en' });
  const t = translator(locale);
  const brand = brandFor(tenant);
  const colors = (mergedSection(tenant, 'branding').colors ?? {}) as { light?: { primary?: string } };
  const primary = colors.light?.primary && HEX.test(colors.light.primary) ? colors.light.primary : '#3b5bdb';
  // Defaults, so a template never fails on a value its caller did not have.
  const defaults = { link: '', hours: 24, minutes: 30, days: 7, when: new Date().toUTCString(), ip: '', device: '', change: 'updated', resetLink: '' };
  const all = { ...defaults, ...locals, t, lang: locale, brand, brandName: brand.name, primary, key: template.replace(/-/g, '_') };
  const [text, html] = await Promise.all([
    ejs.renderFile(path.join(VIEWS, `${template}.text.ejs`), all, { cache: true, escape: (s: string | number | undefined) => (s === undefined ? '' : String(s)) }),
    ejs.renderFile(path.join(VIEWS, `${template}.html.ejs`), all, { cache: true }),
  ]);
  return { subject: t(`mail.${all.key}.subject`, { brand: brand.name }), text, html, brandName: brand.name };
}
