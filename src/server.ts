/** Starts Atrium: services, provisioning, HTTP listener; and stops it gracefully. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { AtriumConfig } from './config/env.ts';
import { createServices, type Services } from './services.ts';
import { bootstrap } from './commands/bootstrap.ts';
import { createApp } from './app.ts';
import { withProviderFastPath } from './http/provider-fast-path.ts';
import { normalizeRequestTarget } from './http/request-target.ts';
import { forwardingNormaliser } from './http/client-address.ts';
import { startMetricsListener, type MetricsListener } from './http/metrics-listener.ts';
import { trackConnections } from './http/connection-drain.ts';

/**
 * While draining, a connection idle this long is closed: its client is not in the middle of
 * using it. Closing an idle keep-alive connection always races a request the client may be
 * sending at that instant (HTTP/1.1 has no way to announce it); the longer the wait, the less
 * likely a client that is mid-flow is still between two of its requests. 250 ms lost a
 * sign-in step on a loaded 2-core machine (a client's event loop stalled that long); 1 s
 * keeps stops short.
 */
const IDLE_CLOSE_AFTER_MS = 1_000;

export interface RunningAtrium {
  services: Services;
  server: http.Server;
  /** The port actually bound (PORT=0 picks a free one). */
  port: number;
  /** The port of the METRICS_PORT listener, when configured (METRICS_PORT=0 picks a free one). */
  metricsPort: number | undefined;
  /** Stops accepting, lets in-flight requests finish (up to `graceMs`), closes pools. */
  stop(graceMs?: number, drainMs?: number): Promise<void>;
}

export interface StartOptions {
  /** Keep the embedded database in memory (tests). */
  inMemoryDatabase?: boolean;
  /** An HTTP server already listening (tests bind port 0 first, then derive PUBLIC_URL). */
  server?: http.Server;
  /** How often the key lifecycle job runs; 0 starts no timer (tests drive it). Default 60 s. */
  keyLifecycleIntervalMs?: number;
  /**
   * Runs after bootstrap and before the port opens (the demo seeds its tenants here), so a
   * caller that waits for /readyz never finds the deployment half-prepared.
   */
  beforeListen?: (services: Services) => Promise<void>;
}

export async function startAtrium(config: AtriumConfig, log: Logger, options: StartOptions = {}): Promise<RunningAtrium> {
  const services = await createServices(config, log, options);
  let shuttingDown = false;
  let metricsListener: MetricsListener | undefined;
  try {
    await bootstrap(services);
    // Requests' statements are prepared from here on: start-up never depends on a pooler keeping them.
    services.db.driver.startPreparing?.();
    // A server fills the key pool at once; an operator command (cli.ts) never needs it filled ahead.
    services.keyPool.start();
    await options.beforeListen?.(services);
    if (config.metrics.port !== undefined) metricsListener = await startMetricsListener(services.metrics, config.host, config.metrics.port, log);
  } catch (err) {
    await services.close();
    throw err;
  }
  const app = createApp(services, { isShuttingDown: () => shuttingDown });
  // Token, discovery and JWKS requests skip the outer Koa app (see http/provider-fast-path.ts).
  const normaliseForwarding = forwardingNormaliser(config.trustProxy);
  const server = options.server ?? http.createServer();
  const connections = trackConnections(server);
  const handler = withProviderFastPath(services, { isShuttingDown: () => connections.closing }, app.callback());
  server.on('request', (req, res) => {
    // First, before anything reads the client address or the forwarding headers.
    normaliseForwarding(req);
    normalizeRequestTarget(req);
    void handler(req, res);
  });
  server.keepAliveTimeout = 65_000; // longer than common load balancer idle timeouts
  server.headersTimeout = 66_000;
  server.requestTimeout = 30_000;
  if (!server.listening) {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.port, config.host, () => resolve());
    });
  }
  const port = (server.address() as AddressInfo).port;
  log.info({ port, public_url: config.publicUrl.origin, multi_tenancy: config.multiTenancy.enabled }, 'atrium listening');

  let stopping: Promise<void> | undefined;
  return {
    services,
    server,
    port,
    metricsPort: metricsListener?.port,
    stop(graceMs = 10_000, drainMs = 1_000) {
      stopping ??= (async () => {
        // Drain first: readiness turns 503 (the balancer stops sending) while everything is
        // still served as usual. Then the listener closes, responses say Connection: close and
        // idle keep-alive connections are closed only between requests (http/connection-drain.ts).
        shuttingDown = true;
        if (drainMs > 0) await new Promise((resolve) => setTimeout(resolve, drainMs));
        await Promise.all([connections.drain({ quietMs: IDLE_CLOSE_AFTER_MS, graceMs }), metricsListener?.close()]);
        await services.close();
      })();
      return stopping;
    },
  };
}
