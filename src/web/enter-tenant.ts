/** The request is now the tenant's: its pages, its audit trail, its row-level security. */
import type { Context } from 'koa';
import type { TenantRuntime } from '../runtime/tenant-runtime.ts';

export function enterTenant(ctx: Context, runtime: TenantRuntime): void {
  ctx.state.context.enterTenant(runtime.tenant);
  ctx.state.tenant = runtime.tenant;
  ctx.state.runtime = runtime;
}
