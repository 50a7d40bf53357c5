/**
 * Graceful shutdown of an HTTP server's connections. Node's `server.close()` also closes
 * every connection that is idle at that instant, and "idle" includes a connection whose
 * next request is already on the wire but not yet parsed: its client gets ECONNRESET for a
 * request the server had, in effect, accepted. Instead (after server.ts's readiness drain,
 * during which keep-alive connections stay open: closing them then would only make their
 * clients reconnect, and a connection still in the kernel's accept queue when the listener
 * closes is reset by the kernel):
 *   - the listener stops accepting first (net.Server#close, without the idle sweep), so
 *     clients told to close cannot come back on a new connection: they are refused;
 *   - then every response says `Connection: close` (Node's own keep-alive switch), so a busy
 *     connection ends right after its response, by the server, in order;
 *   - a connection with no request in progress is closed only after it has stayed idle
 *     for `quietMs`: a client in the middle of using it has sent its next request by then
 *     (which then gets its answer and `Connection: close`);
 *   - after `graceMs` whatever is left is closed.
 */
import type http from 'node:http';
import net from 'node:net';
import type { Socket } from 'node:net';

interface Tracked {
  /** Requests received on it and not yet answered. */
  active: number;
  idleSince: number;
}

export interface ConnectionDrain {
  /** True once the drain closes connections: responses then carry `Connection: close`. */
  readonly closing: boolean;
  /** Resolves once the listener is closed and every connection has ended. */
  drain(options: { quietMs: number; graceMs: number }): Promise<void>;
}

export function trackConnections(server: http.Server): ConnectionDrain {
  const sockets = new Map<Socket, Tracked>();
  let closing = false;
  server.on('connection', (socket: Socket) => {
    sockets.set(socket, { active: 0, idleSince: performance.now() });
    socket.once('close', () => sockets.delete(socket));
  });
  server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    // Before any handler writes: Node then sends Connection: close and ends the socket after the response.
    if (closing) res.shouldKeepAlive = false;
    const tracked = sockets.get(req.socket);
    if (!tracked) return;
    tracked.active++;
    res.once('close', () => {
      tracked.active--;
      tracked.idleSince = performance.now();
    });
  });

  return {
    get closing() {
      return closing;
    },
    async drain({ quietMs, graceMs }) {
      const closed = new Promise<void>((resolve) => net.Server.prototype.close.call(server, () => resolve()));
      closing = true;
      const started = performance.now();
      const sweep = setInterval(() => {
        const now = performance.now();
        for (const [socket, t] of sockets) {
          if (now - started >= graceMs) socket.destroy();
          else if (t.active === 0 && now - t.idleSince >= quietMs) socket.end();
        }
      }, Math.max(10, Math.min(50, quietMs / 4)));
      try {
        await closed;
      } finally {
        clearInterval(sweep);
      }
    },
  };
}
