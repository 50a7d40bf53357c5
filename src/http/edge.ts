/**
 * One request at Atrium's edge, as the steps of the declared pipeline (pipeline.ts) see it,
 * whichever stack serves it: the Koa app (app.ts) or the provider fast path
 * (provider-fast-path.ts). Each stack adapts its own request to this shape, so a step is
 * written once and runs the same in both.
 *
 * A step refuses a request by throwing an AppError (the Koa stack renders it; the fast path
 * hands the request to the Koa stack, which refuses it the same way), or answers it itself
 * with an EdgeAnswer (the token endpoint's 429, identical in both).
 */
import type { IncomingMessage } from 'node:http';
import type { RequestContext } from '../core/request-context.ts';
import type { TenantRuntime } from '../runtime/tenant-runtime.ts';

export interface Edge {
  readonly req: IncomingMessage;
  readonly method: string;
  readonly path: string;
  /** The client's address as TRUST_PROXY believes it (client-address.ts). */
  readonly ip: string;
  readonly context: RequestContext;
  /** Set by tenant resolution. */
  readonly runtime: TenantRuntime | undefined;
  /** The request is now this tenant's (its pages, audit trail and row-level security). */
  enter(runtime: TenantRuntime, options?: { fallback?: boolean }): void;
  /** A response header; the fast path holds them until it answers. */
  setHeader(name: string, value: string): void;
  vary(name: string): void;
  /** The body, looked at (up to `limit` bytes) and put back unread (peek-body.ts). */
  peekBody(limit: number): Promise<Buffer | undefined>;
}

/** An answer a step gives itself, the same from either stack. */
export interface EdgeAnswer {
  status: number;
  headers: Record<string, string>;
  body: Record<string, unknown>;
}

export interface EdgeStep {
  readonly name: string;
  /** Runs before the routes; may answer, or throw an AppError to refuse. */
  before?(edge: Edge): Promise<EdgeAnswer | undefined> | EdgeAnswer | undefined;
  /** Runs once the answer is given, whoever gave it, with its final status. */
  after?(edge: Edge, status: number, startedAt: number): void;
}
