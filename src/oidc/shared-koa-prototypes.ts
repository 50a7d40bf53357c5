/**
 * One set of Koa prototypes for every tenant's Provider.
 *
 * A Provider is a Koa application, and Koa gives each application its own `context`,
 * `request` and `response` objects, which become the prototypes of every request's `ctx`,
 * `ctx.request` and `ctx.response`. V8 gives objects with different prototypes different
 * hidden classes, so with one Provider per tenant the code every request runs through (Koa's
 * getters and delegates, oidc-provider's router, CORS and error handling, our own steps)
 * sees one object shape per tenant, and past a handful of shapes each property read there
 * falls back to V8's slow, shared lookup cache. At 10,000 busy tenants that lookup was about
 * a fifth of the main thread's time (perf, bench F4/10,000).
 *
 * The per-application objects are empty: neither oidc-provider nor Atrium puts anything on
 * them (what differs per tenant lives on the application itself, `ctx.app`, and on the
 * request's own objects). Sharing them, frozen, keeps it so: anything that tried to hang
 * one tenant's state on a shared prototype would throw rather than leak it to the others.
 */
import type Provider from 'oidc-provider';

type KoaPrototypes = Pick<Provider, 'context' | 'request' | 'response'>;

let shared: KoaPrototypes | undefined;

export function shareKoaPrototypes(app: KoaPrototypes): void {
  for (const part of ['context', 'request', 'response'] as const) {
    const own = app[part] as object;
    if (Reflect.ownKeys(own).length > 0) throw new Error(`the Provider's Koa ${part} is not empty: it cannot share its prototype`);
  }
  shared ??= {
    context: Object.freeze(Object.create(Object.getPrototypeOf(app.context))),
    request: Object.freeze(Object.create(Object.getPrototypeOf(app.request))),
    response: Object.freeze(Object.create(Object.getPrototypeOf(app.response))),
  };
  app.context = shared.context;
  app.request = shared.request;
  app.response = shared.response;
}
