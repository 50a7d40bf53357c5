/** Starts Atrium: services, provisioning, HTTP listener; and stops it gracefully. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { AtriumConfig } from './config/env.ts';
import { createServices, type Services } from './services.ts';
import { bootstrap } from './platform/bootstrap.ts';
import { createApp } from './http/app.ts';
import { withProviderFastPath } from './http/provider-fast-path.ts';
import { forwardingNormaliser } from './http/client-address.ts';
import { startMetricsListener, type MetricsListener } from './http/metrics-listener.ts';

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
}

export async function startAtrium(config: AtriumConfig, log: Logger, options: StartOptions = {}): Promise<RunningAtrium> {
  const services = await createServices(config, log, options);
  let shuttingDown = false;
  let metricsListener: MetricsListener | undefined;
  try {
    await bootstrap(services);
    if (config.metrics.port !== undefined) metricsListener = await startMetricsListener(services.metrics, config.host, config.metrics.port, log);
  } catch (err) {
    await services.close();
    throw err;
  }
  const app = createApp(services, { isShuttingDown: () => shuttingDown });
  // Token, discovery and JWKS requests skip the outer Koa app (see http/provider-fast-path.ts).
  const handler = withProviderFastPath(services, { isShuttingDown: () => shuttingDown }, app.callback());
  const normaliseForwarding = forwardingNormaliser(config.trustProxy);
  const server = options.server ?? http.createServer();
  server.on('request', (req, res) => {
    // First, before anything reads the client address or the forwarding headers.
    normaliseForwarding(req);
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
        // Drain first: readiness turns 503 and every response says Connection: close, while
        // requests already sent on open connections are still served. Closing at once would
        // reset connections whose request bytes had arrived but were not yet read.
        shuttingDown = true;
        if (drainMs > 0) await new Promise((resolve) => setTimeout(resolve, drainMs));
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        const timer = setTimeout(() => server.closeAllConnections(), graceMs);
        await Promise.all([closed, metricsListener?.close()]);
        clearTimeout(timer);
        await services.close();
      })();
      return stopping;
    },
  };
}
