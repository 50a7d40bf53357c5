/** The declared pipeline's steps (edge.ts, pipeline.ts) as Koa middleware, for the full stack (app.ts). */
import type { Context, Middleware, Next } from 'koa';
import { enterTenant } from '../web/enter-tenant.ts';
import type { Edge, EdgeStep } from './edge.ts';
import { peekBody } from './peek-body.ts';

function edgeOf(ctx: Context): Edge {
  return {
    req: ctx.req,
    method: ctx.method,
    path: ctx.path,
    ip: ctx.ip,
    context: ctx.state.context,
    get runtime() {
      return ctx.state.runtime;
    },
    enter: (runtime) => enterTenant(ctx, runtime),
    setHeader: (name, value) => ctx.set(name, value),
    vary: (name) => ctx.vary(name),
    peekBody: (limit) => peekBody(ctx.req, limit),
  };
}

/** Runs the steps' `before` in order; an answer ends the request there, a thrown AppError goes to the error middleware. */
export function koaSteps(steps: readonly EdgeStep[]): Middleware {
  const befores = steps.filter((step) => step.before !== undefined);
  return async function edgeSteps(ctx: Context, next: Next): Promise<void> {
    const edge = edgeOf(ctx);
    for (const step of befores) {
      const answer = await step.before!(edge);
      if (answer) {
        ctx.status = answer.status;
        ctx.set(answer.headers);
        ctx.body = answer.body;
        return;
      }
    }
    await next();
  };
}

/** Runs the steps' `after` once the rest of the stack (the error middleware included) has answered. */
export function koaFinish(steps: readonly EdgeStep[]): Middleware {
  const afters = steps.filter((step) => step.after !== undefined);
  return async function finishSteps(ctx: Context, next: Next): Promise<void> {
    const startedAt = performance.now();
    await next();
    const edge = edgeOf(ctx);
    for (const step of afters) step.after!(edge, ctx.status, startedAt);
  };
}
