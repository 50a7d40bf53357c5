/**
 * `GET /tenants` on the platform host: the public tenant picker (issue 14, item 5). JSON for
 * API callers, a page for browsers (Accept decides, as for errors). Without `email`, a page of
 * the tenants that opted in (`features.tenant_picker`), by cursor; with `email`, home-realm
 * discovery among those tenants only (federation/tenant-picker.ts). A browser whose address
 * names exactly one tenant is sent to its sign-in; otherwise it sees the candidates, or that
 * none was found. An unlisted tenant's domain answers exactly as an unknown domain does.
 *
 * Anywhere but the platform host (a tenant's host, or the tenant header) the path is not
 * served: 404, as /platform is. Limited per IP with the platform tenant's sign-in limit,
 * since both are public, unauthenticated and cheap to ask in bulk.
 */
import Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import type { AtriumConfig } from '../config/env.ts';
import { AppError, badRequest, notFound } from '../core/errors.ts';
import { parseInput, queryObject } from '../core/validation.ts';
import type { RateLimiter } from '../security/rate-limiter.ts';
import { PLATFORM_TENANT, SLUG_PATTERN } from '../tenancy/slug.ts';
import type { PickerEntry, TenantPicker } from '../federation/tenant-picker.ts';
import { renderTenantPage } from '../web/page.ts';

export interface TenantPickerDeps {
  config: AtriumConfig;
  picker: TenantPicker;
  rateLimiter: RateLimiter;
}

/** An address as a sign-in form takes it (no quotes, no spaces), bounded like everywhere else. */
const EMAIL = /^[^\s@"<>()[\],;:\\]{1,64}@((?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63})$/i;

/** Every parameter the route takes; any other is refused by name (nothing accepted and ignored). */
const querySchema = z.strictObject({
  email: z.string().trim().max(320, 'at most 320 characters').regex(EMAIL, 'must be an email address such as user@example.com').optional(),
  after: z.string().regex(SLUG_PATTERN, 'must be the next_cursor of a previous page').optional(),
  limit: z.coerce.number().int().min(1).max(100).default(50),
  lang: z.string().max(35).optional(),
});

/** Listings may be cached briefly by shared caches; a discovery answer names a person's address: never stored. */
const LISTING_CACHE = 'public, max-age=60';

const entryJson = (entry: PickerEntry) => ({
  slug: entry.slug,
  display_name: entry.displayName,
  logo_uri: entry.logo.light,
  logo_dark_uri: entry.logo.dark,
  issuer: entry.issuer,
  sign_in_url: entry.signInUrl,
  ...(entry.connection ? { connection: entry.connection } : {}),
});

/** Whether the caller wants the page: browsers prefer HTML; API callers send JSON or nothing. */
const wantsPage = (ctx: Context) => ctx.accepts('json', 'html') === 'html';

export function tenantPickerRoutes(deps: TenantPickerDeps): Router {
  const router = new Router();
  router.get('/tenants', async function tenantPicker(ctx) {
    // Only the platform host, in multi-tenant mode: a tenant's host has no other tenants to show.
    if (!deps.config.multiTenancy.enabled || ctx.state.tenant.slug !== PLATFORM_TENANT) throw notFound('no such page');
    ctx.vary('Accept');
    ctx.vary('Accept-Language');
    await limitPerIp(ctx, deps);
    const raw = queryObject(ctx.query);
    const query = parseInput(querySchema, raw);
    if (query.lang !== undefined && !wantsPage(ctx)) throw badRequest('lang: only the page (Accept: text/html) has text to translate');
    if (query.email !== undefined) {
      const paging = ['after', 'limit'].filter((k) => k in raw);
      if (paging.length) throw badRequest(`${paging.join(', ')}: not taken with email (discovery answers in one page)`);
      return discover(ctx, deps, query.email);
    }
    const { entries, next } = await deps.picker.page({ after: query.after, limit: query.limit });
    const nextUrl = next ? `/tenants?${new URLSearchParams({ after: next, limit: String(query.limit) }).toString()}` : null;
    if (wantsPage(ctx)) await renderTenantPage(ctx, 'picker/tenants', { title: 'picker.title', entries, nextUrl, email: '', domain: '' });
    else ctx.body = { tenants: entries.map(entryJson), next_cursor: next };
    ctx.set('Cache-Control', LISTING_CACHE);
  });
  return router;
}

/** Home-realm discovery: the listed tenants whose connection claims the address's domain. */
async function discover(ctx: Context, deps: TenantPickerDeps, email: string): Promise<void> {
  const domain = EMAIL.exec(email)![1]!.toLowerCase();
  const entries = await deps.picker.discover(email, domain);
  if (!wantsPage(ctx)) {
    ctx.body = { domain, tenants: entries.map(entryJson) };
  } else if (entries.length === 1) {
    ctx.status = 303;
    ctx.redirect(entries[0]!.signInUrl);
  } else {
    await renderTenantPage(ctx, 'picker/tenants', { title: 'picker.title', entries, nextUrl: null, email, domain });
  }
  ctx.set('Cache-Control', 'no-store');
}

/** The platform tenant's `login_per_ip` limit, counted under its own name (RATE_LIMITS_ENABLED=false: the limiter never refuses). */
async function limitPerIp(ctx: Context, deps: TenantPickerDeps): Promise<void> {
  const rule = ctx.state.runtime.rateLimits.login_per_ip;
  const outcome = await deps.rateLimiter.consume({ tenantId: ctx.state.tenant.id, subject: ctx.ip }, { name: 'tenant_picker_per_ip', limit: rule.limit, windowSeconds: rule.windowSeconds });
  if (outcome.allowed) return;
  throw new AppError('rate_limited', 429, `too many requests; retry after ${outcome.retryAfterSeconds} seconds`, { headers: { 'retry-after': String(outcome.retryAfterSeconds), 'cache-control': 'no-store' } });
}
