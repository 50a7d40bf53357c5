/**
 * A webhook receiver on loopback, as an integrator would write one: every POST is verified
 * with the Standard Webhooks reference library (`standardwebhooks`'s Webhook.verify, not
 * Atrium's code) against the secret of its path, and recorded. It can go down (its port
 * closed, connections refused) and come back on the same port.
 */
import http from 'node:http';
import net from 'node:net';
import { Webhook } from 'standardwebhooks';

export interface ReceivedWebhook {
  path: string;
  id: string;
  timestamp: number;
  body: string;
  payload: { type: string; timestamp: string; data: Record<string, any> };
  receivedAt: number;
}

export interface WebhookReceiver {
  url(path: string): string;
  /** The secret deliveries to `path` must be signed with. */
  expect(path: string, secret: string): void;
  /** Verified deliveries, in arrival order (duplicates included). */
  received: ReceivedWebhook[];
  /** Posts that failed verification, with the reason. */
  rejected: string[];
  down(): Promise<void>;
  up(): Promise<void>;
  waitFor(what: string, ok: (received: ReceivedWebhook[]) => boolean, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const secrets = new Map<string, string>();
  const received: ReceivedWebhook[] = [];
  const rejected: string[] = [];
  const sockets = new Set<net.Socket>();
  const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const path = req.url ?? '/';
      const secret = secrets.get(path);
      try {
        if (!secret) throw new Error(`no secret for ${path}`);
        const headers = { 'webhook-id': String(req.headers['webhook-id']), 'webhook-timestamp': String(req.headers['webhook-timestamp']), 'webhook-signature': String(req.headers['webhook-signature']) };
        const payload = new Webhook(secret).verify(body, headers) as ReceivedWebhook['payload'];
        received.push({ path, id: headers['webhook-id'], timestamp: Number(headers['webhook-timestamp']), body, payload, receivedAt: Date.now() });
        res.writeHead(204).end();
      } catch (err) {
        rejected.push(`${path}: ${(err as Error).message}`);
        res.writeHead(400).end();
      }
    });
  };
  let server = http.createServer(handler);
  const track = (s: http.Server) => s.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  track(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  const stop = () =>
    new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    });
  return {
    url: (path) => `http://127.0.0.1:${port}${path}`,
    expect: (path, secret) => void secrets.set(path, secret),
    received,
    rejected,
    down: stop,
    async up() {
      server = http.createServer(handler);
      track(server);
      await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    },
    async waitFor(what, ok, timeoutMs = 10_000) {
      const started = Date.now();
      while (!ok(received)) {
        if (Date.now() - started > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms (received ${received.length}: ${received.map((r) => r.payload.type).join(', ')}; rejected: ${rejected.join('; ')})`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    close: () => (server.listening ? stop() : Promise.resolve()),
  };
}
