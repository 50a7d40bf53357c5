/** /api/v1/tenants/:slug/{clients,users,keys}: one tenant's resources, under its row-level security. */
import type Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import type { UserService } from '../accounts/user-service.ts';
import type { UserStore } from '../accounts/user-store.ts';
import { readJson } from '../web/body.ts';
import { badRequest, notFound } from '../core/errors.ts';
import { CLIENT_ID, type ClientService } from '../oidc/client-service.ts';
import type { ClientStore } from '../oidc/client-store.ts';
import type { SigningKeyStore } from '../oidc/signing-keys.ts';
import type { KeyLifecycle } from '../oidc/key-lifecycle.ts';
import type { Tenant } from '../tenancy/tenant.ts';
import type { TenantService } from '../tenancy/tenant-service.ts';
import type { TenantStore } from '../tenancy/tenant-store.ts';
import { requireScope } from './authenticate.ts';
import { clientJson, keyJson, userJson } from './serialize.ts';
import { targetTenant } from './target-tenant.ts';
import { pagingSchema, parseInput, queryObject } from '../core/validation.ts';

export interface TenantResourceDeps {
  store: TenantStore;
  tenants: TenantService;
  clients: ClientStore;
  clientService: ClientService;
  users: UserStore;
  userService: UserService;
  keys: SigningKeyStore;
  /** Rotation on request: next key becomes current on every instance. */
  keyLifecycle: KeyLifecycle;
}

const email = z.email().max(320).transform((v) => v.trim());
/** Role names; which exist in the tenant is checked by the user service (a 400 naming an unknown one). */
const rolesFor = (_tenant: Tenant) => z.array(z.string().max(64)).max(10);
const createUserSchema = (tenant: Tenant) =>
  z.strictObject({ email, password: z.string().optional(), name: z.string().trim().max(200).nullable().optional(), email_verified: z.boolean().optional(), roles: rolesFor(tenant).optional() });
const patchUserSchema = (tenant: Tenant) =>
  z.strictObject({
    email: email.optional(),
    password: z.string().optional(),
    name: z.string().trim().max(200).nullable().optional(),
    email_verified: z.boolean().optional(),
    roles: rolesFor(tenant).optional(),
    status: z.enum(['active', 'disabled']).optional(),
  });

function metadataObject(body: unknown): Record<string, unknown> {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw badRequest('the body must be a JSON object of client metadata', 'invalid_client_metadata');
  return body as Record<string, unknown>;
}

/** The client id of the path; one that could never exist is simply not found. */
function clientIdParam(ctx: Context): string {
  const id = String(ctx.params.clientId ?? '');
  if (!CLIENT_ID.test(id)) throw notFound('no such client');
  return id;
}

export function mountTenantResourceRoutes(router: Router, deps: TenantResourceDeps): void {
  const target = targetTenant(deps.store);
  const read = [requireScope('atrium:cross-tenant:read'), target];
  const write = [requireScope('atrium:cross-tenant:write'), target];

  // Clients
  router.get('/tenants/:slug/clients', ...read, async function listClients(ctx) {
    const paging = parseInput(pagingSchema, queryObject(ctx.query));
    const { clients, total } = await deps.clients.list(paging);
    ctx.body = { clients: clients.map(clientJson), total, limit: paging.limit, offset: paging.offset };
  });
  router.post('/tenants/:slug/clients', ...write, async function createClient(ctx) {
    const { client, secret } = await deps.clientService.create(ctx.state.target, metadataObject(await readJson(ctx)));
    ctx.status = 201;
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { ...clientJson(client), ...(secret ? { client_secret: secret, client_secret_expires_at: 0 } : {}) };
  });
  router.get('/tenants/:slug/clients/:clientId', ...read, async function getClient(ctx) {
    const client = await deps.clients.get(clientIdParam(ctx));
    if (!client) throw notFound('no such client');
    ctx.body = clientJson(client);
  });
  router.patch('/tenants/:slug/clients/:clientId', ...write, async function updateClient(ctx) {
    const { client, secret } = await deps.clientService.update(ctx.state.target, clientIdParam(ctx), metadataObject(await readJson(ctx)));
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { ...clientJson(client), ...(secret ? { client_secret: secret, client_secret_expires_at: 0 } : {}) };
  });
  router.delete('/tenants/:slug/clients/:clientId', ...write, async function deleteClient(ctx) {
    const clientId = clientIdParam(ctx);
    await deps.clientService.delete(ctx.state.target, clientId);
    ctx.status = 204;
  });

  // Users
  router.get('/tenants/:slug/users', ...read, async function listUsers(ctx) {
    const paging = parseInput(pagingSchema, queryObject(ctx.query));
    const { users, total } = await deps.users.list(paging);
    ctx.body = { users: users.map(userJson), total, limit: paging.limit, offset: paging.offset };
  });
  router.post('/tenants/:slug/users', ...write, async function createUser(ctx) {
    const tenant = ctx.state.target;
    const input = parseInput(createUserSchema(tenant), await readJson(ctx));
    const user = await deps.userService.create(tenant, { ...input, emailVerified: input.email_verified });
    ctx.status = 201;
    ctx.body = userJson(user);
  });
  router.get('/tenants/:slug/users/:id', ...read, async function getUser(ctx) {
    const user = await deps.users.findById(ctx.params.id!);
    if (!user) throw notFound('no such user');
    ctx.body = userJson(user);
  });
  router.patch('/tenants/:slug/users/:id', ...write, async function updateUser(ctx) {
    const tenant = ctx.state.target;
    const input = parseInput(patchUserSchema(tenant), await readJson(ctx));
    const user = await deps.userService.update(tenant, ctx.params.id!, { ...input, emailVerified: input.email_verified });
    ctx.body = userJson(user);
  });
  router.delete('/tenants/:slug/users/:id', ...write, async function deleteUser(ctx) {
    await deps.userService.delete(ctx.params.id!);
    ctx.status = 204;
  });

  // Signing keys
  router.get('/tenants/:slug/keys', ...read, async function listKeys(ctx) {
    const tenant = ctx.state.target;
    ctx.body = { keys: (await deps.keys.list()).map((k) => keyJson(k, tenant)) };
  });
  router.post('/tenants/:slug/keys/rotate', ...write, async function rotateKeys(ctx) {
    const tenant = ctx.state.target;
    const keys = await deps.keyLifecycle.rotateNow(tenant);
    ctx.body = { keys: keys.map((k) => keyJson(k, tenant)) };
  });
}
