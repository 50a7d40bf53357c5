/**
 * What every page of a tenant shows, as plain data: its brand, the negotiated language and
 * its translator, and the request's correlation id. Used by the Koa pages (web/page.ts) and
 * by the pages oidc-provider renders itself (oidc/provider-factory.ts: logout, errors).
 */
import { mergedSection } from './tenant-config.ts';
import { currentContext } from '../core/request-context.ts';
import type { Tenant } from './tenant.ts';
import { brandFor } from './branding.ts';
import { negotiateLocale, SHIPPED_LOCALES, translator } from '../core/i18n.ts';

export interface PageRequest {
  tenant: Tenant | undefined;
  acceptLanguage?: string | undefined;
  /** An explicit language choice: `ui_locales` of an authorization request, or `?lang=`. */
  explicitLocale?: string | undefined;
}

export function pageLocals(request: PageRequest) {
  const application = request.tenant ? (mergedSection(request.tenant, 'application') as { default_locale?: string; available_locales?: string[] }) : {};
  const lang = negotiateLocale({
    explicit: request.explicitLocale,
    acceptLanguage: request.acceptLanguage,
    available: application.available_locales ?? SHIPPED_LOCALES,
    defaultLocale: application.default_locale ?? 'en',
  });
  const brand = brandFor(request.tenant);
  return { lang, t: translator(lang), brand, tenantName: brand.name, correlationId: currentContext()?.correlationId };
}
