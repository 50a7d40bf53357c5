/**
 * /admin/clients: the tenant's OIDC clients. Created, edited, given a new secret and
 * deleted through the same ClientService as the management API, so the tenant's Provider
 * validates the metadata and every instance rebuilds it. Creating a client or a new secret
 * ends in a 303 to the client's page (post/redirect/get): the secret rides there in the
 * console session's sealed flash and appears exactly once (no-store), never in a URL.
 */
import { decodeListCursor, encodeListCursor } from '../../storage/list-cursor.ts';
import type { Direction, Position } from '../../storage/keyset.ts';
import type Router from '@koa/router';
import type { Context } from 'koa';
import { badRequest, notFound } from '../../core/errors.ts';
import { CLIENT_ID } from '../../oidc/client-service.ts';
import type { StoredClient } from '../../oidc/client-store.ts';
import type { ConsolePrincipal } from '../console-auth.ts';
import { integrationOf } from './client-integration.ts';
import { cursorPager, cursorParam, doneNotice, formError, renderAdminPage, requireAdmin, seeOther, tenantOf, type AdminDeps } from './admin-console.ts';

const PAGE_SIZE = 25;
const NOTICES = ['updated', 'deleted'] as const;
const CLIENT_KINDS = ['web', 'public', 'service'] as const;
type ClientKind = (typeof CLIENT_KINDS)[number];

/** The metadata a kind of application needs (RFC 7591 names); the Provider fills in the rest. */
function kindMetadata(kind: ClientKind): Record<string, unknown> {
  if (kind === 'service') return { token_endpoint_auth_method: 'client_secret_basic', grant_types: ['client_credentials'], response_types: [], redirect_uris: [] };
  return {
    token_endpoint_auth_method: kind === 'public' ? 'none' : 'client_secret_basic',
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
  };
}

/** One URI per line (blank lines ignored), at most 50. */
function uriLines(value: string | null, field: string): string[] {
  const lines = (value ?? '').split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
  if (lines.length > 50) throw badRequest(`${field}: at most 50 URIs`, 'invalid_client_metadata');
  return lines;
}

/** The kind a stored client was made as (for the table; a client made through the API may be anything). */
function kindOf(client: StoredClient): ClientKind {
  const grants = (client.metadata.grant_types as string[] | undefined) ?? [];
  if (!grants.includes('authorization_code')) return 'service';
  return client.metadata.token_endpoint_auth_method === 'none' ? 'public' : 'web';
}

function clientView(client: StoredClient) {
  const list = (v: unknown) => (Array.isArray(v) ? (v as string[]) : []);
  return {
    id: client.metadata.client_id,
    name: typeof client.metadata.client_name === 'string' ? client.metadata.client_name : '',
    kind: kindOf(client),
    authMethod: typeof client.metadata.token_endpoint_auth_method === 'string' ? client.metadata.token_endpoint_auth_method : 'client_secret_basic',
    grants: list(client.metadata.grant_types),
    redirectUris: list(client.metadata.redirect_uris),
    postLogoutUris: list(client.metadata.post_logout_redirect_uris),
    hasSecret: client.hasSecret,
    createdAt: client.createdAt,
  };
}

async function clientParam(ctx: Context, deps: AdminDeps): Promise<StoredClient> {
  const id = String(ctx.params.clientId ?? '');
  const client = CLIENT_ID.test(id) ? await deps.clients.get(id) : undefined;
  if (!client) throw notFound('no such client');
  return client;
}

async function renderNew(ctx: Context, principal: ConsolePrincipal, values: Record<string, unknown> = {}, error?: string): Promise<void> {
  await renderAdminPage(ctx, 'client-new', principal, 'clients', { title: 'admin.client_new_title', kinds: CLIENT_KINDS, values: { kind: 'web', ...values }, error });
}

async function renderClient(ctx: Context, deps: AdminDeps, principal: ConsolePrincipal, client: StoredClient, extra: { error?: string; values?: Record<string, unknown> } = {}): Promise<void> {
  // A page carrying a secret (from the flash) is never stored by the browser or a proxy (renderTenantPage sets no-store).
  const view = clientView(client);
  await renderAdminPage(ctx, 'client', principal, 'clients', { title: 'admin.client_title', client: view, integration: integrationOf(tenantOf(ctx), deps.config, view), done: doneNotice(ctx, NOTICES), ...extra });
}

const clientPath = (client: StoredClient) => `/admin/clients/${encodeURIComponent(client.metadata.client_id)}`;

async function listClients(deps: AdminDeps, ctx: Context): Promise<void> {
  const principal = requireAdmin(ctx, deps);
  if (!principal) return;
  const tenantId = tenantOf(ctx).id;
  const cursor = cursorParam(ctx.query.cursor);
  // Keyset paging (storage/keyset.ts): a cursor this list did not give is a 400 naming it.
  const from = cursor === undefined ? undefined : decodeListCursor('clients', tenantId, cursor);
  const { clients, total, next, previous } = await deps.clients.list({ limit: PAGE_SIZE, from });
  const link = (direction: Direction, at: Position | undefined) => at && encodeListCursor('clients', tenantId, direction, at);
  await renderAdminPage(ctx, 'clients', principal, 'clients', {
    title: 'admin.clients_title',
    clients: clients.map(clientView),
    done: doneNotice(ctx, NOTICES),
    paging: cursorPager('/admin/clients', total, { prev: link('before', previous), next: link('after', next) }),
  });
}

async function newClient(deps: AdminDeps, ctx: Context): Promise<void> {
  const principal = requireAdmin(ctx, deps);
  if (!principal) return;
  await renderNew(ctx, principal);
}

/** The metadata of a new client from the form's values; a bad value throws with the field named. */
function newClientMetadata(values: { name: string; kind: string; redirectUris: string; postLogoutUris: string }): Record<string, unknown> {
  if (!(CLIENT_KINDS as readonly string[]).includes(values.kind)) throw badRequest('kind: choose the kind of application', 'invalid_client_metadata');
  if (!values.name || values.name.length > 200) throw badRequest('client_name: a name of 1 to 200 characters is required', 'invalid_client_metadata');
  const kind = values.kind as ClientKind;
  const metadata: Record<string, unknown> = { client_name: values.name, ...kindMetadata(kind) };
  if (kind !== 'service') {
    metadata.redirect_uris = uriLines(values.redirectUris, 'redirect_uris');
    const logout = uriLines(values.postLogoutUris, 'post_logout_redirect_uris');
    if (logout.length) metadata.post_logout_redirect_uris = logout;
  }
  return metadata;
}

async function createClient(deps: AdminDeps, ctx: Context): Promise<void> {
  const principal = requireAdmin(ctx, deps);
  if (!principal) return;
  const form = await deps.consoleAuth.readForm(ctx, principal);
  const values = { name: (form.get('client_name') ?? '').trim(), kind: form.get('kind') ?? '', redirectUris: form.get('redirect_uris') ?? '', postLogoutUris: form.get('post_logout_redirect_uris') ?? '' };
  let created: { client: StoredClient; secret: string | undefined };
  try {
    created = await deps.clientService.create(tenantOf(ctx), newClientMetadata(values));
  } catch (err) {
    const error = formError(err);
    ctx.status = error.status;
    return renderNew(ctx, principal, values, error.message);
  }
  await deps.consoleAuth.flash.redirect(ctx, principal, { path: clientPath(created.client), notice: 'admin.done_created_client', secret: created.secret });
}

async function showClient(deps: AdminDeps, ctx: Context): Promise<void> {
  const principal = requireAdmin(ctx, deps);
  if (!principal) return;
  await renderClient(ctx, deps, principal, await clientParam(ctx, deps));
}

async function updateClient(deps: AdminDeps, ctx: Context): Promise<void> {
  const principal = requireAdmin(ctx, deps);
  if (!principal) return;
  const form = await deps.consoleAuth.readForm(ctx, principal);
  const client = await clientParam(ctx, deps);
  const values = { name: (form.get('client_name') ?? '').trim(), redirectUris: form.get('redirect_uris') ?? '', postLogoutUris: form.get('post_logout_redirect_uris') ?? '' };
  try {
    if (!values.name || values.name.length > 200) throw badRequest('client_name: a name of 1 to 200 characters is required', 'invalid_client_metadata');
    const logout = uriLines(values.postLogoutUris, 'post_logout_redirect_uris');
    const patch: Record<string, unknown> = { client_name: values.name, post_logout_redirect_uris: logout.length ? logout : null };
    if (kindOf(client) !== 'service') patch.redirect_uris = uriLines(values.redirectUris, 'redirect_uris');
    await deps.clientService.update(tenantOf(ctx), client.metadata.client_id, patch);
  } catch (err) {
    const error = formError(err);
    ctx.status = error.status;
    return renderClient(ctx, deps, principal, client, { error: error.message, values });
  }
  seeOther(ctx, `/admin/clients/${encodeURIComponent(client.metadata.client_id)}?done=updated`);
}

async function rotateSecret(deps: AdminDeps, ctx: Context): Promise<void> {
  const principal = requireAdmin(ctx, deps);
  if (!principal) return;
  await deps.consoleAuth.readForm(ctx, principal);
  const client = await clientParam(ctx, deps);
  let rotated: { client: StoredClient; secret: string };
  try {
    rotated = await deps.clientService.rotateSecret(tenantOf(ctx), client.metadata.client_id);
  } catch (err) {
    const error = formError(err);
    ctx.status = error.status;
    return renderClient(ctx, deps, principal, client, { error: error.message });
  }
  await deps.consoleAuth.flash.redirect(ctx, principal, { path: clientPath(rotated.client), notice: 'admin.done_rotated_secret', secret: rotated.secret });
}

async function deleteClient(deps: AdminDeps, ctx: Context): Promise<void> {
  const principal = requireAdmin(ctx, deps);
  if (!principal) return;
  const form = await deps.consoleAuth.readForm(ctx, principal);
  const client = await clientParam(ctx, deps);
  if (form.get('confirm') !== 'on') {
    ctx.status = 400;
    return renderClient(ctx, deps, principal, client, { error: 'tick the box to confirm the deletion' });
  }
  await deps.clientService.delete(tenantOf(ctx), client.metadata.client_id);
  seeOther(ctx, '/admin/clients?done=deleted');
}

export function mountClientRoutes(router: Router, deps: AdminDeps): void {
  router.get('/clients', (ctx) => listClients(deps, ctx));
  router.get('/clients/new', (ctx) => newClient(deps, ctx));
  router.post('/clients', (ctx) => createClient(deps, ctx));
  router.get('/clients/:clientId', (ctx) => showClient(deps, ctx));
  router.post('/clients/:clientId', (ctx) => updateClient(deps, ctx));
  router.post('/clients/:clientId/secret', (ctx) => rotateSecret(deps, ctx));
  router.post('/clients/:clientId/delete', (ctx) => deleteClient(deps, ctx));
}
