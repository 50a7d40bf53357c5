/**
 * How a management API route is declared: one `defineRoute({...})` value says its method,
 * path, scope, query and body schemas (zod) and its responses, and `ApiRoutes.add` mounts
 * it on the router with that scope check and that input validation. The OpenAPI document
 * (openapi-document.ts) is built from the routes `add` mounted, so the router and the
 * contract cannot drift: a route is in the document because it is on the router.
 */
import type Router from '@koa/router';
import type { Context, Middleware, Next } from 'koa';
import type { z } from 'zod';
import { forbidden } from '../core/errors.ts';
import { parseInput, queryObject } from '../core/validation.ts';
import type { PlatformScope } from '../oidc/api-resource.ts';
import { readJson } from '../web/body.ts';
import { requireScope, tenantScopeFor } from './authenticate.ts';

export type HttpMethod = 'get' | 'post' | 'put' | 'patch' | 'delete';

export interface ResponseSpec {
  description: string;
  /** The JSON body; none for a 204. */
  schema?: z.ZodType;
  /** A body that is not JSON (a tenant bundle). */
  mediaType?: string;
}

type Maybe = z.ZodType | undefined;

export interface RouteSpec<Q extends Maybe = Maybe, B extends Maybe = Maybe> {
  method: HttpMethod;
  /** The router's path under /api/v1, with `:name` parameters. */
  path: string;
  operationId: string;
  tag: string;
  summary: string;
  description?: string;
  /** The platform scope `requireScope` checks; null for the public contract routes. */
  scope: PlatformScope | null;
  /** Refuses a tenant's own token even where its tenant scope would match (the message says why). */
  platformOnly?: string;
  /** Path parameters' schemas, for the document (the handlers check them as before). */
  params?: Record<string, z.ZodType>;
  /** Validated before the handler runs; the handler gets the parsed value. */
  query?: Q;
  /** A JSON body validated before the handler runs; the handler gets the parsed value. */
  body?: B;
  bodyLimitBytes?: number;
  /**
   * A JSON body the handler passes on to the service that validates it with this same schema
   * (it needs the tenant or the path to choose it); documented, not parsed here.
   */
  serviceBody?: z.ZodType;
  responses: Record<number, ResponseSpec>;
  /** Error statuses this route answers besides the common ones (see openapi-document.ts). */
  errors?: number[];
}

export type Input<Q extends Maybe, B extends Maybe> = {
  query: Q extends z.ZodType ? z.output<Q> : undefined;
  body: B extends z.ZodType ? z.output<B> : undefined;
};

export type Handler<Q extends Maybe, B extends Maybe> = (ctx: Context, input: Input<Q, B>) => Promise<void>;

/** A route's declaration (identity: the point is the type and one place to read it). */
export function defineRoute<Q extends Maybe = undefined, B extends Maybe = undefined>(spec: RouteSpec<Q, B>): RouteSpec<Q, B> {
  return spec;
}

/** The scope a tenant's own token needs for this route, or null when such a token never reaches it. */
export function tenantScopeOf(spec: RouteSpec): string | null {
  if (!spec.scope || spec.platformOnly || !spec.path.includes(':slug')) return null;
  return tenantScopeFor(spec.scope) ?? null;
}

/** The API's router and the declarations of what was mounted on it, in order. */
export class ApiRoutes {
  readonly router: Router;
  readonly #specs: RouteSpec[] = [];
  constructor(router: Router) {
    this.router = router;
  }

  get specs(): readonly RouteSpec[] {
    return this.#specs;
  }

  /**
   * Mounts a declared route: its scope check, then `middleware` (the target tenant, say),
   * then the query and body validation, then the handler.
   */
  add<Q extends Maybe, B extends Maybe>(spec: RouteSpec<Q, B>, middleware: Middleware[], handler: Handler<Q, B>): void {
    const chain: Middleware[] = [];
    if (spec.scope) chain.push(requireScope(spec.scope));
    if (spec.platformOnly) chain.push(refuseTenantTokens(spec.platformOnly));
    chain.push(...middleware);
    const { query, body, bodyLimitBytes } = spec;
    chain.push(async function validatedHandler(ctx: Context) {
      const input = {
        query: query ? parseInput(query, queryObject(ctx.query)) : undefined,
        body: body ? parseInput(body, await readJson(ctx, bodyLimitBytes ? { limitBytes: bodyLimitBytes } : {})) : undefined,
      } as Input<Q, B>;
      await handler(ctx, input);
    });
    this.router.register(spec.path, [spec.method.toUpperCase()], chain, { name: spec.operationId });
    this.#specs.push(spec);
  }
}

function refuseTenantTokens(message: string): Middleware {
  return async function platformOnly(ctx: Context, next: Next): Promise<void> {
    if (ctx.state.principal?.tenant) throw forbidden(message, 'insufficient_scope');
    await next();
  };
}
