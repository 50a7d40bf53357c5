/**
 * The OpenAPI 3.1 document of /api/v1, generated from the routes the router mounted
 * (route-contract.ts): their zod schemas become JSON Schema (draft 2020-12, the dialect of
 * OpenAPI 3.1) with zod's own `toJSONSchema`. Nothing here is written per route.
 *
 * All schemas of one direction are converted in one call, so a schema with a `.meta({id})`
 * (api-schemas.ts) becomes one entry of `components.schemas` that every operation refers to.
 */
import { z } from 'zod';
import type { AtriumConfig } from '../config/env.ts';
import { PLATFORM_SCOPES } from '../oidc/api-resource.ts';
import { errorSchema, pathParams } from './api-schemas.ts';
import { tenantScopeOf, type RouteSpec } from './route-contract.ts';

type Json = Record<string, unknown>;

const SCOPE_DESCRIPTIONS: Record<string, string> = {
  'atrium:tenants:read': 'Read tenants, their configuration, domains and quotas (platform)',
  'atrium:tenants:write': 'Create and change tenants, their configuration and domains, set quotas (platform)',
  'atrium:tenants:delete': 'Delete tenants (platform)',
  'atrium:tenants:transfer': 'Export and import tenants (platform)',
  'atrium:cross-tenant:read': 'Read any tenant\'s users, clients, keys, federation, roles, audit, webhooks (platform)',
  'atrium:cross-tenant:write': 'Change any tenant\'s users, clients, keys, federation, roles, webhooks (platform)',
  'atrium:platform:read': 'Read the operator\'s policy (platform)',
  'atrium:platform:write': 'Change the operator\'s policy (platform)',
  'atrium:tenant:read': 'A tenant\'s own token: read its own tenant',
  'atrium:tenant:write': 'A tenant\'s own token: change its own tenant',
};

/** `/tenants/:slug` as OpenAPI writes it: `/tenants/{slug}`. */
export function openApiPath(path: string): string {
  return path.replace(/:([A-Za-z_][A-Za-z0-9_]*)/g, '{$1}');
}

const pathParamNames = (path: string) => [...path.matchAll(/:([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1]!);

/**
 * Converts named schemas in one pass; returns each by its key, and the shared definitions
 * (schemas with an id) with references rewritten to point into components.
 */
function convert(schemas: Record<string, z.ZodType>, io: 'input' | 'output'): { byKey: Record<string, Json>; defs: Record<string, Json> } {
  const whole = z.toJSONSchema(z.object(schemas), { target: 'draft-2020-12', io, unrepresentable: 'any', reused: 'inline' });
  const text = JSON.stringify(whole).replaceAll('"#/$defs/', '"#/components/schemas/');
  const rewritten = JSON.parse(text) as { properties?: Record<string, Json>; $defs?: Record<string, Json> };
  return { byKey: rewritten.properties ?? {}, defs: rewritten.$defs ?? {} };
}

function errorResponse(description: string) {
  return { description, content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
}

export interface DocumentOptions {
  config: Pick<AtriumConfig, 'publicUrl'>;
  version: string;
}

type Converted = ReturnType<typeof convert>;

/** Every schema of the routes, converted: requests as they are sent (io input), answers as they are sent back (io output). */
function convertAll(specs: readonly RouteSpec[]): { input: Converted; output: Converted; components: Record<string, Json> } {
  const inputs: Record<string, z.ZodType> = {};
  const outputs: Record<string, z.ZodType> = { error: errorSchema };
  specs.forEach((spec, i) => {
    const body = spec.body ?? spec.serviceBody;
    if (body) inputs[`${i}_body`] = body;
    if (spec.query) inputs[`${i}_query`] = spec.query;
    for (const name of pathParamNames(spec.path)) inputs[`${i}_param_${name}`] = spec.params?.[name] ?? (pathParams as Record<string, z.ZodType>)[name] ?? z.string();
    for (const [status, response] of Object.entries(spec.responses)) if (response.schema) outputs[`${i}_${status}`] = response.schema;
  });
  const input = convert(inputs, 'input');
  const output = convert(outputs, 'output');
  const components: Record<string, Json> = { ...output.defs };
  for (const [id, schema] of Object.entries(input.defs)) {
    if (components[id] && JSON.stringify(components[id]) !== JSON.stringify(schema)) throw new Error(`schema ${id} differs between requests and responses: give the input side its own id`);
    components[id] = schema;
  }
  return { input, output, components };
}

/** The responses of operation `i`: its own, then the error answers every route of its kind can give. */
function responsesOf(spec: RouteSpec, i: number, output: Converted, hasParams: boolean): Record<string, Json> {
  const responses: Record<string, Json> = {};
  for (const [status, response] of Object.entries(spec.responses)) {
    const schema = output.byKey[`${i}_${status}`];
    responses[status] = {
      description: response.description,
      ...(schema ? { content: { 'application/json': { schema } } } : {}),
      ...(response.mediaType ? { content: { [response.mediaType]: { schema: { type: 'string', contentMediaType: response.mediaType } } } } : {}),
    };
  }
  if (spec.body || spec.serviceBody || spec.query || hasParams) responses['400'] = errorResponse('Invalid input: the description names each bad field.');
  if (spec.scope) {
    responses['401'] = errorResponse('No bearer token, or one that is invalid, expired, or whose client is gone.');
    responses['403'] = errorResponse('The token lacks the scope (or is a tenant\'s token on a platform route).');
  }
  if (hasParams) responses['404'] = errorResponse('No such resource (or a tenant the token cannot reach).');
  for (const status of spec.errors ?? []) responses[String(status)] ??= errorResponse(ERROR_TEXT[status] ?? 'See the description.');
  if (spec.body || spec.serviceBody) responses['415'] ??= errorResponse('The body is not application/json.');
  responses.default = errorResponse('Any other error (429 quota_exceeded, 503 temporarily_unavailable, ...): the same shape.');
  return responses;
}

function operationOf(spec: RouteSpec, i: number, input: Converted, output: Converted): Json {
  const params = pathParamNames(spec.path).map((name) => ({ name, in: 'path', required: true, schema: input.byKey[`${i}_param_${name}`] }));
  const queryParams: Json[] = [];
  if (spec.query) {
    const query = input.byKey[`${i}_query`] as { properties?: Record<string, Json>; required?: string[] };
    for (const [name, schema] of Object.entries(query.properties ?? {})) queryParams.push({ name, in: 'query', required: query.required?.includes(name) ?? false, schema });
  }
  const tenantScope = tenantScopeOf(spec);
  const security = spec.scope ? [{ platformOAuth: [spec.scope] }, { bearer: [spec.scope] }, ...(tenantScope ? [{ bearer: [tenantScope] }] : [])] : [];
  const scopeText = spec.scope
    ? `\n\nScope: \`${spec.scope}\` on a platform token${tenantScope ? `, or \`${tenantScope}\` on the tenant's own token (its own tenant only)` : ' (a tenant\'s own token never reaches it)'}.`
    : '\n\nPublic: no token needed.';
  const body = spec.body ?? spec.serviceBody;
  return {
    operationId: spec.operationId,
    tags: [spec.tag],
    summary: spec.summary,
    description: `${spec.description ?? ''}${scopeText}`.trim(),
    ...(params.length || queryParams.length ? { parameters: [...params, ...queryParams] } : {}),
    ...(body ? { requestBody: { required: true, content: { 'application/json': { schema: input.byKey[`${i}_body`] } } } } : {}),
    responses: responsesOf(spec, i, output, params.length > 0),
    security,
    'x-atrium-scopes': { platform: spec.scope, tenant: tenantScope },
  };
}

function securitySchemes(origin: string): Json {
  return {
    platformOAuth: {
      type: 'oauth2',
      description: `Client credentials at the platform tenant (the bare PUBLIC_URL host), with audience ${origin}/api/v1.`,
      flows: { clientCredentials: { tokenUrl: `${origin}/token`, scopes: Object.fromEntries(PLATFORM_SCOPES.map((s) => [s, SCOPE_DESCRIPTIONS[s] ?? s])) } },
    },
    bearer: {
      type: 'http',
      scheme: 'bearer',
      bearerFormat: 'JWT',
      description: 'A JWT access token (typ at+jwt) for the API audience: a platform token, or a tenant\'s own client-credentials token from `{tenant issuer}/token` with atrium:tenant:read or atrium:tenant:write. The roles listed per operation are its scopes.',
    },
  };
}

export function openApiDocument(specs: readonly RouteSpec[], options: DocumentOptions): Json {
  const origin = options.config.publicUrl.origin;
  const { input, output, components } = convertAll(specs);
  const paths: Record<string, Record<string, Json>> = {};
  specs.forEach((spec, i) => {
    (paths[openApiPath(spec.path)] ??= {})[spec.method] = operationOf(spec, i, input, output);
  });
  return {
    openapi: '3.1.1',
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    info: {
      title: 'Atrium management API',
      version: options.version,
      description: 'Manage tenants and everything in them. Take a client-credentials token for the API audience from the platform tenant\'s token endpoint (or a tenant\'s own, for that tenant only) and send it as `Authorization: Bearer`. Generated from the zod schemas that validate the requests.',
    },
    servers: [{ url: `${origin}/api/v1` }],
    paths,
    components: { schemas: components, securitySchemes: securitySchemes(origin) },
    tags: [...new Set(specs.map((s) => s.tag))].map((name) => ({ name })),
  };
}

const ERROR_TEXT: Record<number, string> = {
  403: 'Refused: a quota is reached, or the change is not allowed.',
  409: 'Conflicts with what exists.',
  413: 'The body is too large.',
};
