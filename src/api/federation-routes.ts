/** /api/v1/tenants/:slug/federation[/:name[/test]]: a tenant's upstream identity providers, under its row-level security. */
import type Router from '@koa/router';
import type { Context } from 'koa';
import type { AtriumConfig } from '../config/env.ts';
import { readJson } from '../web/body.ts';
import { connectionJson, type ChangeSource, type FederationService } from '../federation/federation-service.ts';
import { redirectUris } from '../federation/redirect-uris.ts';
import type { TenantStore } from '../tenancy/tenant-store.ts';
import { apiActor, requireScope } from './authenticate.ts';
import { targetTenant } from './target-tenant.ts';

export function mountFederationRoutes(router: Router, deps: { config: AtriumConfig; store: TenantStore; federation: FederationService }): void {
  const target = targetTenant(deps.store);
  const read = [requireScope('atrium:cross-tenant:read'), target];
  const write = [requireScope('atrium:cross-tenant:write'), target];
  const source = (ctx: Context): ChangeSource => ({ actor: apiActor(ctx), ip: ctx.ip, userAgent: ctx.get('user-agent') });
  const urisOf = (ctx: Context) => (redirectPath: string | null = null) => redirectUris(ctx.state.target, deps.config, redirectPath);

  router.get('/tenants/:slug/federation', ...read, async function listConnections(ctx) {
    const uris = urisOf(ctx);
    ctx.body = { connections: (await deps.federation.list()).map((c) => connectionJson(c, uris)), redirect_uris: uris() };
  });
  router.get('/tenants/:slug/federation/:name', ...read, async function getConnection(ctx) {
    ctx.body = connectionJson(await deps.federation.get(ctx.params.name!), urisOf(ctx));
  });
  router.put('/tenants/:slug/federation/:name', ...write, async function putConnection(ctx) {
    const { connection, created } = await deps.federation.put(ctx.state.target, ctx.params.name!, await readJson(ctx), source(ctx));
    ctx.status = created ? 201 : 200;
    ctx.body = connectionJson(connection, urisOf(ctx));
  });
  router.delete('/tenants/:slug/federation/:name', ...write, async function deleteConnection(ctx) {
    await deps.federation.delete(ctx.state.target, ctx.params.name!, source(ctx));
    ctx.status = 204;
  });
  router.post('/tenants/:slug/federation/:name/test', ...write, async function testConnection(ctx) {
    ctx.body = await deps.federation.test(ctx.state.target, ctx.params.name!, source(ctx));
  });
}
