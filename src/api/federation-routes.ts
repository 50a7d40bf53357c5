/** /api/v1/tenants/:slug/federation[/:name[/test]]: a tenant's upstream identity providers, under its row-level security. */
import { z } from 'zod';
import type { Context } from 'koa';
import type { AtriumConfig } from '../config/env.ts';
import { readJson } from '../web/body.ts';
import { connectionJson, type ChangeSource, type FederationService } from '../federation/federation-service.ts';
import { redirectUris } from '../federation/redirect-uris.ts';
import type { TenantStore } from '../tenancy/tenant-store.ts';
import { apiActor } from './authenticate.ts';
import { defineRoute, type ApiRoutes } from './route-contract.ts';
import { connectionSchema, connectionTestSchema, redirectUrisSchema } from './api-schemas.ts';
import { connectionInputSchema } from '../federation/connection-schema.ts';
import { targetTenant } from './target-tenant.ts';

const tag = 'Federation';

export const listConnections = defineRoute({
  method: 'get', path: '/tenants/:slug/federation', operationId: 'listFederationConnections', tag, summary: 'List the tenant\'s upstream identity providers',
  scope: 'atrium:cross-tenant:read',
  responses: { 200: { description: 'The connections, and the redirect URIs to register upstream.', schema: z.object({ connections: z.array(connectionSchema), redirect_uris: redirectUrisSchema }) } },
});
export const getConnection = defineRoute({
  method: 'get', path: '/tenants/:slug/federation/:name', operationId: 'getFederationConnection', tag, summary: 'Read a connection',
  scope: 'atrium:cross-tenant:read',
  responses: { 200: { description: 'The connection, its secret masked.', schema: connectionSchema } },
});
export const putConnection = defineRoute({
  method: 'put', path: '/tenants/:slug/federation/:name', operationId: 'putFederationConnection', tag, summary: 'Create or replace a connection',
  scope: 'atrium:cross-tenant:write', serviceBody: connectionInputSchema({ allowHttp: false }), errors: [403, 409],
  responses: {
    201: { description: 'Created.', schema: connectionSchema },
    200: { description: 'Replaced.', schema: connectionSchema },
  },
});
export const deleteConnection = defineRoute({
  method: 'delete', path: '/tenants/:slug/federation/:name', operationId: 'deleteFederationConnection', tag, summary: 'Delete a connection',
  scope: 'atrium:cross-tenant:write',
  responses: { 204: { description: 'Deleted.' } },
});
export const testConnection = defineRoute({
  method: 'post', path: '/tenants/:slug/federation/:name/test', operationId: 'testFederationConnection', tag, summary: 'Try the connection: discovery, keys, credentials',
  scope: 'atrium:cross-tenant:write',
  responses: { 200: { description: 'Each step\'s outcome; a failed step is a result, not an error.', schema: connectionTestSchema } },
});

export function mountFederationRoutes(routes: ApiRoutes, deps: { config: AtriumConfig; store: TenantStore; federation: FederationService }): void {
  const target = targetTenant(deps.store);
  const source = (ctx: Context): ChangeSource => ({ actor: apiActor(ctx), ip: ctx.ip, userAgent: ctx.get('user-agent') });
  const urisOf = (ctx: Context) => (redirectPath: string | null = null) => redirectUris(ctx.state.target, deps.config, redirectPath);

  routes.add(listConnections, [target], async function listConnections(ctx) {
    const uris = urisOf(ctx);
    ctx.body = { connections: (await deps.federation.list()).map((c) => connectionJson(c, uris)), redirect_uris: uris() };
  });
  routes.add(getConnection, [target], async function getConnection(ctx) {
    ctx.body = connectionJson(await deps.federation.get(ctx.params.name), urisOf(ctx));
  });
  routes.add(putConnection, [target], async function putConnection(ctx) {
    const { connection, created } = await deps.federation.put(ctx.state.target, ctx.params.name, await readJson(ctx), source(ctx));
    ctx.status = created ? 201 : 200;
    ctx.body = connectionJson(connection, urisOf(ctx));
  });
  routes.add(deleteConnection, [target], async function deleteConnection(ctx) {
    await deps.federation.delete(ctx.state.target, ctx.params.name, source(ctx));
    ctx.status = 204;
  });
  routes.add(testConnection, [target], async function testConnection(ctx) {
    ctx.body = await deps.federation.test(ctx.state.target, ctx.params.name, source(ctx));
  });
}
