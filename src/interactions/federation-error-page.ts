/** The page of a federated sign-in that cannot go on (federation/federation-error.ts says why). */
import type { Context } from 'koa';
import type { FederationError } from '../federation/federation-error.ts';
import { renderTenantPage } from '../web/page.ts';

/** The branded error page (status 4xx), with the request's correlation id to quote to support. */
export async function renderFederationError(ctx: Context, error: FederationError): Promise<void> {
  ctx.status = error.status;
  await renderTenantPage(ctx, 'error', (t) => ({
    title: 'federation.error_title',
    heading: t('federation.error_heading'),
    message: t(`federation.error_${error.code}`, error.vars),
  }));
}
