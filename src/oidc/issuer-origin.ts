/**
 * Pins the origin oidc-provider sees to the tenant's issuer.
 *
 * oidc-provider writes every absolute URL it publishes or sends (discovery endpoints,
 * interaction and resume URLs, form actions, device verification URIs, DPoP `htu` and
 * client-assertion audiences it checks) from Koa's `ctx.href`, that is, from the
 * request's protocol and Host. Atrium resolves the tenant before oidc-provider runs, so the
 * request's own host has no say left: every context the Provider creates (for its routes,
 * and for `interactionDetails`/`interactionResult` called from Atrium's pages) reads the
 * issuer's protocol and host instead. One tenant's documents are then the same bytes
 * however the tenant was reached (subdomain, header, custom domain), and a hostile Host
 * or X-Forwarded-Host writes nothing.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type Provider from 'oidc-provider';

export function pinOriginToIssuer(app: Pick<Provider['app'], 'createContext'>, issuer: string): void {
  const url = new URL(issuer);
  const protocol = url.protocol.slice(0, -1);
  const host = url.host;
  const create = app.createContext.bind(app);
  app.createContext = function createContextOnIssuer<StateT>(req: IncomingMessage, res: ServerResponse) {
    const ctx = create<StateT>(req, res);
    // Own properties shadow Koa's request getters; `href`, `URL`, `hostname`, `secure` and
    // `origin`-style reads all go through these two.
    Object.defineProperties(ctx.request, {
      protocol: { value: protocol, enumerable: true },
      host: { value: host, enumerable: true },
      // An absolute-form request target (`GET http://other.example/x`) would otherwise be taken as the href itself.
      href: { get: () => `${protocol}://${host}${pathOf(ctx.request.originalUrl)}`, enumerable: true },
    });
    return ctx;
  };
}

function pathOf(target: string): string {
  if (target.startsWith('/')) return target;
  try {
    const u = new URL(target);
    return `${u.pathname}${u.search}`;
  } catch {
    return '/';
  }
}
