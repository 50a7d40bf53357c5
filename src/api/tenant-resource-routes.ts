/** /api/v1/tenants/:slug/{clients,users,keys}: one tenant's resources, under its row-level security. */
import type { Context } from 'koa';
import { z } from 'zod';
import type { UserService } from '../accounts/user-service.ts';
import type { UserStore } from '../accounts/user-store.ts';
import { readJson } from '../web/body.ts';
import { defineRoute, type ApiRoutes } from './route-contract.ts';
import { clientSchema, clientWithSecretSchema, keyListSchema, pagedSchema, userSchema } from './api-schemas.ts';
import { badRequest, notFound } from '../core/errors.ts';
import { CLIENT_ID, type ClientService } from '../oidc/client-service.ts';
import type { ClientStore } from '../oidc/client-store.ts';
import type { SigningKeyStore } from '../oidc/signing-keys.ts';
import type { KeyLifecycle } from '../oidc/key-lifecycle.ts';
import type { TenantService } from '../tenancy/tenant-service.ts';
import type { TenantStore } from '../tenancy/tenant-store.ts';
import { clientJson, keyJson, userJson } from './serialize.ts';
import { targetTenant } from './target-tenant.ts';
import { decodeListCursor, encodeListCursor, type ListKind } from '../storage/list-cursor.ts';
import type { Position } from '../storage/keyset.ts';

/**
 * The users and clients lists page by cursor: `cursor` is the previous answer's
 * `next_cursor` (null on the last page), keyset paging that reads about `limit` rows however
 * deep the page. `offset`, the older paging, still works (answers to it carry `offset`) and
 * cannot be combined with `cursor`. Strict: an unknown parameter is a 400 naming it.
 */
const cursorPaging = {
  limit: z.coerce.number().int().min(1).max(200).default(50),
  offset: z.coerce.number().int().min(0).max(1_000_000).optional(),
  cursor: z.string().min(1).max(400).optional(),
};
const clientListSchema = z.strictObject(cursorPaging);
const userListSchema = z.strictObject({ ...cursorPaging, search: z.string().max(200).optional() });
const PAGING_DESCRIPTION = 'Pages by cursor: pass the previous answer\'s `next_cursor` (null on the last page). `offset` is the older paging, kept for compatibility; it cannot be combined with `cursor`.';

/** The store's paging options from the query, and the answer's paging members from the page. */
function listPaging(kind: ListKind, tenantId: string, query: { limit: number; offset?: number; cursor?: string }) {
  if (query.cursor !== undefined && query.offset !== undefined) throw badRequest('cursor, offset: give one or the other (cursor is the paging to use)');
  const from = query.cursor === undefined ? undefined : decodeListCursor(kind, tenantId, query.cursor);
  return {
    options: { limit: query.limit, offset: from ? undefined : (query.offset ?? 0), from },
    answer: (ends: { next?: Position }) => ({
      limit: query.limit,
      ...(from ? {} : { offset: query.offset ?? 0 }),
      next_cursor: ends.next ? encodeListCursor(kind, tenantId, 'after', ends.next) : null,
    }),
  };
}

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
const roles = z.array(z.string().max(64)).max(10);
const createUserSchema = z.strictObject({ email, password: z.string().optional(), name: z.string().trim().max(200).nullable().optional(), email_verified: z.boolean().optional(), roles: roles.optional() });
const patchUserSchema = z.strictObject({
  email: email.optional(),
  password: z.string().optional(),
  name: z.string().trim().max(200).nullable().optional(),
  email_verified: z.boolean().optional(),
  roles: roles.optional(),
  status: z.enum(['active', 'disabled']).optional(),
});

/**
 * Client metadata (RFC 7591 names) as the client service checks it (oidc/client-service.ts,
 * then oidc-provider's own validation): documented here, validated there.
 */
const clientMetadataSchema = z.looseObject({
  client_id: z.string().regex(CLIENT_ID).optional().describe('Chosen at creation (generated if left out); never changed.'),
  client_name: z.string().optional(),
  redirect_uris: z.array(z.string()).optional(),
  post_logout_redirect_uris: z.array(z.string()).optional(),
  grant_types: z.array(z.enum(['authorization_code', 'refresh_token', 'client_credentials'])).optional(),
  response_types: z.array(z.string()).optional(),
  token_endpoint_auth_method: z.enum(['client_secret_basic', 'client_secret_post', 'client_secret_jwt', 'private_key_jwt', 'none']).optional(),
  scope: z.string().optional(),
}).describe('Client metadata (RFC 7591), validated by the tenant\'s own provider: an invalid field is a 400 naming it. In an update, null removes a property.');

const clientTag = 'Clients';
const userTag = 'Users';
const keyTag = 'Signing keys';

export const listClients = defineRoute({
  method: 'get', path: '/tenants/:slug/clients', operationId: 'listClients', tag: clientTag, summary: 'List the tenant\'s clients',
  description: PAGING_DESCRIPTION,
  scope: 'atrium:cross-tenant:read', query: clientListSchema,
  responses: { 200: { description: 'A page of clients.', schema: pagedSchema('clients', clientSchema) } },
});
export const createClient = defineRoute({
  method: 'post', path: '/tenants/:slug/clients', operationId: 'createClient', tag: clientTag, summary: 'Register a client',
  description: 'A confidential client\'s secret is in this answer only.',
  scope: 'atrium:cross-tenant:write', serviceBody: clientMetadataSchema, errors: [403, 409],
  responses: { 201: { description: 'The client, with its secret if it has one.', schema: clientWithSecretSchema } },
});
export const getClient = defineRoute({
  method: 'get', path: '/tenants/:slug/clients/:clientId', operationId: 'getClient', tag: clientTag, summary: 'Read a client',
  scope: 'atrium:cross-tenant:read',
  responses: { 200: { description: 'The client (never its secret).', schema: clientSchema } },
});
export const updateClient = defineRoute({
  method: 'patch', path: '/tenants/:slug/clients/:clientId', operationId: 'updateClient', tag: clientTag, summary: 'Change a client\'s metadata or rotate its secret',
  scope: 'atrium:cross-tenant:write', serviceBody: clientMetadataSchema,
  responses: { 200: { description: 'The client; a new secret is in this answer only.', schema: clientWithSecretSchema } },
});
export const deleteClient = defineRoute({
  method: 'delete', path: '/tenants/:slug/clients/:clientId', operationId: 'deleteClient', tag: clientTag, summary: 'Delete a client',
  scope: 'atrium:cross-tenant:write',
  responses: { 204: { description: 'Deleted; its tokens stop working.' } },
});

export const listUsers = defineRoute({
  method: 'get', path: '/tenants/:slug/users', operationId: 'listUsers', tag: userTag, summary: 'List the tenant\'s users',
  description: `${PAGING_DESCRIPTION} \`search\`: email or name contains.`,
  scope: 'atrium:cross-tenant:read', query: userListSchema,
  responses: { 200: { description: 'A page of users.', schema: pagedSchema('users', userSchema) } },
});
export const createUser = defineRoute({
  method: 'post', path: '/tenants/:slug/users', operationId: 'createUser', tag: userTag, summary: 'Create a user',
  scope: 'atrium:cross-tenant:write', body: createUserSchema, errors: [409],
  responses: { 201: { description: 'The user.', schema: userSchema } },
});
export const getUser = defineRoute({
  method: 'get', path: '/tenants/:slug/users/:id', operationId: 'getUser', tag: userTag, summary: 'Read a user',
  scope: 'atrium:cross-tenant:read',
  responses: { 200: { description: 'The user.', schema: userSchema } },
});
export const updateUser = defineRoute({
  method: 'patch', path: '/tenants/:slug/users/:id', operationId: 'updateUser', tag: userTag, summary: 'Change a user',
  scope: 'atrium:cross-tenant:write', body: patchUserSchema, errors: [409],
  responses: { 200: { description: 'The user as updated.', schema: userSchema } },
});
export const deleteUser = defineRoute({
  method: 'delete', path: '/tenants/:slug/users/:id', operationId: 'deleteUser', tag: userTag, summary: 'Delete a user',
  scope: 'atrium:cross-tenant:write',
  responses: { 204: { description: 'Deleted.' } },
});

export const listKeys = defineRoute({
  method: 'get', path: '/tenants/:slug/keys', operationId: 'listSigningKeys', tag: keyTag, summary: 'List the tenant\'s signing keys',
  scope: 'atrium:cross-tenant:read',
  responses: { 200: { description: 'The keys, next, current and retired.', schema: keyListSchema } },
});
export const rotateKeys = defineRoute({
  method: 'post', path: '/tenants/:slug/keys/rotate', operationId: 'rotateSigningKeys', tag: keyTag, summary: 'Rotate the signing keys now',
  scope: 'atrium:cross-tenant:write',
  responses: { 200: { description: 'The keys after the rotation.', schema: keyListSchema } },
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

export function mountTenantResourceRoutes(routes: ApiRoutes, deps: TenantResourceDeps): void {
  const target = targetTenant(deps.store);

  // Clients
  routes.add(listClients, [target], async function listClients(ctx, { query }) {
    const paging = listPaging('clients', ctx.state.target.id, query);
    const { clients, total, next } = await deps.clients.list(paging.options);
    ctx.body = { clients: clients.map(clientJson), total, ...paging.answer({ next }) };
  });
  routes.add(createClient, [target], async function createClient(ctx) {
    const { client, secret } = await deps.clientService.create(ctx.state.target, metadataObject(await readJson(ctx)));
    ctx.status = 201;
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { ...clientJson(client), ...(secret ? { client_secret: secret, client_secret_expires_at: 0 } : {}) };
  });
  routes.add(getClient, [target], async function getClient(ctx) {
    const client = await deps.clients.get(clientIdParam(ctx));
    if (!client) throw notFound('no such client');
    ctx.body = clientJson(client);
  });
  routes.add(updateClient, [target], async function updateClient(ctx) {
    const { client, secret } = await deps.clientService.update(ctx.state.target, clientIdParam(ctx), metadataObject(await readJson(ctx)));
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { ...clientJson(client), ...(secret ? { client_secret: secret, client_secret_expires_at: 0 } : {}) };
  });
  routes.add(deleteClient, [target], async function deleteClient(ctx) {
    const clientId = clientIdParam(ctx);
    await deps.clientService.delete(ctx.state.target, clientId);
    ctx.status = 204;
  });

  // Users
  routes.add(listUsers, [target], async function listUsers(ctx, { query }) {
    const paging = listPaging('users', ctx.state.target.id, query);
    const { users, total, next } = await deps.users.list({ ...paging.options, search: query.search });
    ctx.body = { users: users.map(userJson), total, ...paging.answer({ next }) };
  });
  routes.add(createUser, [target], async function createUser(ctx, { body: input }) {
    const user = await deps.userService.create(ctx.state.target, { ...input, emailVerified: input.email_verified });
    ctx.status = 201;
    ctx.body = userJson(user);
  });
  routes.add(getUser, [target], async function getUser(ctx) {
    const user = await deps.users.findById(ctx.params.id);
    if (!user) throw notFound('no such user');
    ctx.body = userJson(user);
  });
  routes.add(updateUser, [target], async function updateUser(ctx, { body: input }) {
    const user = await deps.userService.update(ctx.state.target, ctx.params.id, { ...input, emailVerified: input.email_verified });
    ctx.body = userJson(user);
  });
  routes.add(deleteUser, [target], async function deleteUser(ctx) {
    await deps.userService.delete(ctx.params.id);
    ctx.status = 204;
  });

  // Signing keys
  routes.add(listKeys, [target], async function listKeys(ctx) {
    const tenant = ctx.state.target;
    ctx.body = { keys: (await deps.keys.list()).map((k) => keyJson(k, tenant)) };
  });
  routes.add(rotateKeys, [target], async function rotateKeys(ctx) {
    const tenant = ctx.state.target;
    const keys = await deps.keyLifecycle.rotateNow(tenant);
    ctx.body = { keys: keys.map((k) => keyJson(k, tenant)) };
  });
}
