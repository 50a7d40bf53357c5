/**
 * What the request pipeline leaves on `ctx.state`, typed once for every page and route
 * (Koa's `DefaultState`), so no handler casts it.
 *   - `context`: set first, by http/request-context-middleware, on every request.
 *   - `tenant` and `runtime` (its runtime/tenant-runtime.ts): set together by enterTenant
 *     (web/enter-tenant.ts), from http/tenant-middleware or the federation relay, before any
 *     tenant page runs; routes that run earlier (ops, metrics, /api/v1) do not read them.
 * Folders add their own slots the same way (api/request-state.ts, console/console-auth.ts).
 */
import type { RequestContext } from '../core/request-context.ts';
import type { Tenant } from '../tenancy/tenant.ts';
import type { TenantRuntime } from '../runtime/tenant-runtime.ts';

declare module 'koa' {
  interface DefaultState {
    context: RequestContext;
    tenant: Tenant;
    runtime: TenantRuntime;
  }
}
