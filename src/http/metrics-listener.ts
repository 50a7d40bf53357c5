/**
 * The METRICS_PORT listener: `/metrics` without authentication, and nothing else, on a port
 * the operator keeps off the public network. Plain node:http, no Koa: there is one route.
 */
import http from 'node:http';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { Metrics } from '../core/metrics.ts';

export interface MetricsListener {
  /** The port actually bound (METRICS_PORT=0 picks a free one). */
  readonly port: number;
  close(): Promise<void>;
}

function sendError(res: http.ServerResponse, status: number, error: string, description: string, headers: Record<string, string> = {}): void {
  const correlationId = randomUUID();
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'x-correlation-id': correlationId, 'cache-control': 'no-store', ...headers });
  res.end(JSON.stringify({ error, error_description: description, correlation_id: correlationId }));
}

export async function startMetricsListener(metrics: Metrics, host: string, port: number, log: Logger): Promise<MetricsListener> {
  const server = http.createServer((req, res) => {
    res.setHeader('x-content-type-options', 'nosniff');
    const path = (req.url ?? '/').split('?', 1)[0];
    if (path !== '/metrics') return sendError(res, 404, 'not_found', 'no such resource');
    if (req.method !== 'GET' && req.method !== 'HEAD') return sendError(res, 405, 'method_not_allowed', 'method not allowed on this resource', { allow: 'GET, HEAD' });
    metrics.text().then(
      (body) => {
        res.writeHead(200, { 'content-type': metrics.contentType, 'cache-control': 'no-store', 'content-length': Buffer.byteLength(body) });
        res.end(req.method === 'HEAD' ? undefined : body);
      },
      (err: unknown) => {
        log.error({ err }, 'collecting metrics failed');
        sendError(res, 500, 'server_error', 'an unexpected error occurred');
      },
    );
  });
  server.requestTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = (server.address() as AddressInfo).port;
  log.info({ port: bound }, 'metrics listening');
  return {
    port: bound,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
