/**
 * A local HTTP server that records every request exactly as it arrives (method, path, query,
 * headers, raw body) and answers what the test tells it: a stand-in for an outside API
 * (an SMS provider), reached by Atrium through the operator's provider URLs and the egress guard.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SunkRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface HttpSink {
  origin: string;
  requests: SunkRequest[];
  /** What to answer next (until changed): a status and a JSON body, from the request. */
  answer(fn: (req: SunkRequest) => { status: number; json: unknown }): void;
  close(): Promise<void>;
}

export async function startHttpSink(): Promise<HttpSink> {
  const requests: SunkRequest[] = [];
  let respond: (req: SunkRequest) => { status: number; json: unknown } = () => ({ status: 200, json: {} });
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const sunk = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      requests.push(sunk);
      const { status, json } = respond(sunk);
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(json));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    answer(fn) {
      respond = fn;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Waits until `count` requests have arrived (alerts are sent in the background). */
export async function waitForRequests(sink: HttpSink, count: number, timeoutMs = 5_000): Promise<SunkRequest[]> {
  const until = Date.now() + timeoutMs;
  while (sink.requests.length < count && Date.now() < until) await new Promise((r) => setTimeout(r, 25));
  return sink.requests;
}
