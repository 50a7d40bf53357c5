/**
 * Reads a small request body and puts it back, so that whoever reads the request next
 * (oidc-provider, when the fast path hands a token request over) finds it whole and unread.
 *
 * `Readable#unshift` is the stream API for exactly this ("un-consume" data pulled
 * optimistically). It is called in the same tick as the last `read()`, before the stream
 * can emit 'end' (which would forbid it): the body is back in the buffer, and the stream
 * ends only once the next reader has drained it.
 */
import type { IncomingMessage } from 'node:http';

/**
 * The body, or undefined when it is not a small body of declared length (chunked, larger
 * than `limit`, no Content-Length): the caller then leaves the request to the full handler.
 * Resolves undefined too if the request fails or is aborted before the body is complete.
 */
export function peekBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  const declared = req.headers['content-length'];
  const length = declared === undefined || !/^\d{1,9}$/.test(declared) ? NaN : Number(declared);
  if (!(length <= limit) || req.headers['transfer-encoding'] !== undefined) return Promise.resolve(undefined);
  if (length === 0) return Promise.resolve(Buffer.alloc(0));
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let received = 0;
    const settle = (body: Buffer | undefined) => {
      req.off('readable', onReadable);
      req.off('error', onFailure);
      req.off('close', onFailure);
      resolve(body);
    };
    function onReadable(): void {
      let chunk: Buffer | null;
      while (received < length && (chunk = req.read() as Buffer | null) !== null) {
        chunks.push(chunk);
        received += chunk.length;
      }
      if (received < length) return;
      const body = Buffer.concat(chunks, received);
      req.unshift(body);
      settle(body);
    }
    function onFailure(): void {
      settle(undefined);
    }
    req.on('readable', onReadable);
    req.once('error', onFailure);
    req.once('close', onFailure);
  });
}
