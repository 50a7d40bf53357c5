/** The management API's slots on `ctx.state` (see web/request-state.ts). */
import type { Tenant } from '../tenancy/tenant.ts';
import type { ApiPrincipal } from './authenticate.ts';

declare module 'koa' {
  interface DefaultState {
    /** The bearer's identity, set by api/authenticate.ts on every /api/v1 request. */
    principal: ApiPrincipal;
    /** The tenant a `/tenants/:slug/...` route acts on, set by api/target-tenant.ts. */
    target: Tenant;
  }
}
