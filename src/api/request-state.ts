/** The management API's slots on `ctx.state` (see web/request-state.ts). */
import type { Tenant } from '../tenancy/tenant.ts';
import type { ApiPrincipal } from './authenticate.ts';
import type { TenantGate } from './management-rate.ts';

declare module 'koa' {
  interface DefaultState {
    /** The bearer's identity, set by api/authenticate.ts on every /api/v1 request. */
    principal: ApiPrincipal;
    /** The tenant a `/tenants/:slug/...` route acts on, set by api/target-tenant.ts. */
    target: Tenant;
    /** Checked by api/target-tenant.ts once the target tenant is entered: its management_requests_per_minute quota. */
    tenantGate?: TenantGate;
  }
}
