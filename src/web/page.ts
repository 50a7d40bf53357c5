/**
 * Renders a tenant's server-side page with what every page needs: the tenant's brand,
 * the negotiated language and its translator (tenancy/page-locals.ts), and no caching of
 * personal pages.
 */
import type { Context } from 'koa';
import { renderPage } from '../core/views.ts';
import type { Translate } from '../core/i18n.ts';
import { pageLocals } from '../tenancy/page-locals.ts';

export { pageLocals, type PageRequest } from '../tenancy/page-locals.ts';

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
