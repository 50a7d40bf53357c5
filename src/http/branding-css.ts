/** The tenant's palette and fonts as a stylesheet, on the tenant's own host. */
import type { Context, Next } from 'koa';
import { brandingCss } from '../tenancy/branding.ts';

/** GET /branding.css on a tenant's host. */
export function brandingStylesheet() {
  return async function serveBrandingCss(ctx: Context, next: Next): Promise<void> {
    if (ctx.path !== '/branding.css' || (ctx.method !== 'GET' && ctx.method !== 'HEAD')) return next();
    ctx.type = 'text/css';
    // The link carries the tenant version, so a change is a new URL; a short life covers stale links.
    ctx.set('Cache-Control', 'public, max-age=300');
    ctx.body = brandingCss(ctx.state.tenant);
  };
}
