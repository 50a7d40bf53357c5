/**
 * What the signup and reset pages (signup-pages.ts, reset-pages.ts) share: the login page's
 * links to them, the request's facts for the account-recovery service, the mail limits, and
 * the page of a link that no longer works.
 */
import type { Context } from 'koa';
import type { RateLimiter } from '../security/rate-limiter.ts';
import { pageLocals, renderTenantPage } from '../web/page.ts';
import type { Tenant } from '../tenancy/tenant.ts';
import type { Translate } from '../core/i18n.ts';
import { signupPolicy, type Problem, type RequestMeta } from '../account-recovery/account-recovery.ts';

/** An interaction uid as a link or form may carry it. */
export const UID = /^[A-Za-z0-9_-]{1,64}$/;

/** The login page's two links: always "Forgot password?", "Create account" only when the tenant's signup is open. */
export function loginPageLinks(tenant: Pick<Tenant, 'config'>, uid: string): { forgot: string; signup: string } {
  const id = encodeURIComponent(uid);
  return { forgot: `/password/forgot?interaction=${id}`, signup: signupPolicy(tenant).mode === 'open' ? `/interaction/${id}/signup` : '' };
}

export function requestMeta(ctx: Context, explicitLocale?: string): RequestMeta {
  const { lang } = pageLocals({ tenant: ctx.state.tenant, acceptLanguage: ctx.get('accept-language'), explicitLocale: explicitLocale ?? (typeof ctx.query.lang === 'string' ? ctx.query.lang : undefined) });
  return { ip: ctx.ip, userAgent: ctx.get('user-agent'), lang };
}

export const problemMessages = (t: Translate, problems: Problem[]) => problems.map((p) => t(p.key, p.vars));

/**
 * Requests that send mail are limited per IP (the tenant's sign-in limit) and per address
 * (a few an hour, so nobody is flooded with mail); a refusal is a 429 (with Retry-After)
 * that says nothing about the address.
 */
export async function mailLimited(ctx: Context, limiter: RateLimiter, email: string): Promise<number | undefined> {
  const tenant = ctx.state.tenant;
  const perIp = ctx.state.runtime.rateLimits.login_per_ip;
  const byIp = await limiter.consume({ tenantId: tenant.id, subject: ctx.ip }, { name: 'account_mail_per_ip', limit: perIp.limit, windowSeconds: perIp.windowSeconds });
  if (!byIp.allowed) return byIp.retryAfterSeconds;
  if (!email) return undefined;
  const byEmail = await limiter.consume({ tenantId: tenant.id, subject: email.toLowerCase() }, { name: 'account_mail_per_email', limit: 5, windowSeconds: 3600 });
  return byEmail.allowed ? undefined : byEmail.retryAfterSeconds;
}

/** A link that is unknown, used or expired. */
export async function invalidLink(ctx: Context): Promise<void> {
  ctx.status = 400;
  await renderTenantPage(ctx, 'interactions/reset-link-invalid', { title: 'reset.invalid_title', forgotUrl: '/password/forgot' });
}
