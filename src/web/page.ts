/**
 * Renders a tenant's server-side page with what every page needs: the tenant's brand,
 * the negotiated language and its translator, and no caching of personal pages.
 */
import type { Context } from 'koa';
import { mergedSection } from '../tenancy/tenant-config.ts';
import { renderPage } from '../core/views.ts';
import { currentContext } from '../core/request-context.ts';
import type { Tenant } from '../tenancy/tenant.ts';
import { brandFor } from '../tenancy/branding.ts';
import { negotiateLocale, SHIPPED_LOCALES, translator, type Translate } from '../core/i18n.ts';

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

type ViewLocals = Record<string, unknown> & { title: string };

/**
 * Renders views/<view>.ejs for the request's tenant. `title` is a translation key;
 * locals that need translating before the view can be given as a function of `t`.
 */
export async function renderTenantPage(ctx: Context, view: string, locals: ViewLocals | ((t: Translate) => ViewLocals), explicitLocale?: string): Promise<void> {
  const common = pageLocals({ tenant: ctx.state.tenant, acceptLanguage: ctx.get('accept-language'), explicitLocale: explicitLocale ?? (typeof ctx.query.lang === 'string' ? ctx.query.lang : undefined) });
  const own = typeof locals === 'function' ? locals(common.t) : locals;
  ctx.type = 'html';
  ctx.set('Cache-Control', 'no-store');
  ctx.body = await renderPage(view, { ...common, ...own, title: common.t(own.title) });
}
