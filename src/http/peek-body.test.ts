import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type net from 'node:net';
import { text } from 'node:stream/consumers';
import { peekBody } from './peek-body.ts';

/** Each request: what peekBody saw, then what a later reader of the same request reads. */
let server: http.Server;
let port: number;
before(async () => {
  server = http.createServer((req, res) => {
    void (async () => {
      const peeked = await peekBody(req, 64);
      const later = await text(req);
      res.end(JSON.stringify({ peeked: peeked?.toString('utf8') ?? null, later }));
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as net.AddressInfo).port;
});
after(() => server.close());

function post(parts: string[], headers: http.OutgoingHttpHeaders): Promise<{ peeked: string | null; later: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/', headers }, (res) => {
      void text(res).then((body) => resolve(JSON.parse(body) as { peeked: string | null; later: string }), reject);
    });
    req.on('error', reject);
    req.flushHeaders();
    // Each part in its own packet, a little apart.
    let i = 0;
    const next = () => (i < parts.length - 1 ? (req.write(parts[i++]), setTimeout(next, 20)) : req.end(parts[i]));
    next();
  });
}

describe('peekBody', () => {
  it('reads a body that arrives in pieces and leaves it whole for the next reader', async () => {
    const body = 'grant_type=client_credentials&scope=a';
    assert.deepEqual(await post([body.slice(0, 5), body.slice(5, 20), body.slice(20)], { 'content-length': body.length }), { peeked: body, later: body });
  });

  it('does not read a body over the limit, a chunked one, or one without a valid length', async () => {
    const big = 'x'.repeat(65);
    assert.deepEqual(await post([big], { 'content-length': big.length }), { peeked: null, later: big });
    assert.deepEqual(await post(['a=1', '&b=2'], { 'transfer-encoding': 'chunked' }), { peeked: null, later: 'a=1&b=2' });
  });

  it('gives an empty body at once', async () => {
    assert.deepEqual(await post([''], { 'content-length': 0 }), { peeked: '', later: '' });
  });
});
