import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import Koa from 'koa';
import { CookieSigner } from './cookie-signer.ts';

/** Keygrip's place in Koa, filled by raw keys (Koa then makes a keygrip of them) or by a CookieSigner. */
const koaKeys = (keys: Buffer[] | CookieSigner) => keys as unknown as Koa['keys'];

/** A request carrying `cookie`, and a response that keeps what is set on it. */
function exchange(cookie = '') {
  const headers = new Map<string, string | string[]>();
  const req = { url: '/', headers: { cookie }, socket: {} } as unknown as IncomingMessage;
  const res = {
    getHeader: (name: string) => headers.get(name.toLowerCase()),
    setHeader: (name: string, value: string | string[]) => headers.set(name.toLowerCase(), value),
  } as unknown as ServerResponse;
  return { req, res, setCookies: () => ([] as string[]).concat(headers.get('set-cookie') ?? []).map((c) => c.split(';')[0]!) };
}

/** Sets one signed cookie through Koa with `keys` and returns the Cookie header a browser would send back. */
function setSigned(keys: Buffer[] | CookieSigner, name: string, value: string): string {
  const app = new Koa();
  app.keys = koaKeys(keys);
  const { req, res, setCookies } = exchange();
  app.createContext(req, res).cookies.set(name, value, { signed: true });
  return setCookies().join('; ');
}

/** Reads a signed cookie through Koa with `keys`, and the cookies Koa set meanwhile (a re-signed .sig). */
function getSigned(keys: Buffer[] | CookieSigner, cookie: string, name: string) {
  const app = new Koa();
  app.keys = koaKeys(keys);
  const { req, res, setCookies } = exchange(cookie);
  const value = app.createContext(req, res).cookies.get(name, { signed: true });
  return { value, set: setCookies() };
}

describe('CookieSigner', () => {
  const current = randomBytes(32);
  const previous = randomBytes(32);

  it("signs cookies as Koa's own keygrip does, so cookies from before an upgrade stay valid, and the other way round", () => {
    const byKeygrip = setSigned([current, previous], 'atrium.t.session', 'abc');
    const bySigner = setSigned(new CookieSigner([current, previous]), 'atrium.t.session', 'abc');
    assert.equal(bySigner, byKeygrip);
    assert.match(bySigner, /^atrium\.t\.session=abc; atrium\.t\.session\.sig=[\w-]{27}$/);
    assert.equal(getSigned(new CookieSigner([current, previous]), byKeygrip, 'atrium.t.session').value, 'abc');
    assert.equal(getSigned([current, previous], bySigner, 'atrium.t.session').value, 'abc');
  });

  it('accepts a cookie signed with an older key and has Koa re-sign it with the current one', () => {
    const old = setSigned(new CookieSigner([previous]), 'atrium.t.session', 'abc');
    const read = getSigned(new CookieSigner([current, previous]), old, 'atrium.t.session');
    assert.equal(read.value, 'abc');
    const resigned = read.set.find((c) => c.startsWith('atrium.t.session.sig='));
    assert.ok(resigned, 'the signature cookie is set again');
    assert.equal(`atrium.t.session=abc; ${resigned}`, setSigned(new CookieSigner([current]), 'atrium.t.session', 'abc'));
  });

  it('refuses a cookie signed with another key, a changed value, a changed or truncated signature, and a missing one', () => {
    const signer = new CookieSigner([current, previous]);
    const good = setSigned(signer, 'atrium.t.session', 'abc');
    const sig = /\.sig=([\w-]+)/.exec(good)![1]!;
    const otherTenant = setSigned(new CookieSigner([randomBytes(32)]), 'atrium.t.session', 'abc');
    assert.equal(getSigned(signer, otherTenant, 'atrium.t.session').value, undefined);
    assert.equal(getSigned(signer, good.replace('=abc;', '=abd;'), 'atrium.t.session').value, undefined);
    const flipped = `${sig.slice(0, -1)}${sig.endsWith('A') ? 'B' : 'A'}`;
    assert.equal(getSigned(signer, `atrium.t.session=abc; atrium.t.session.sig=${flipped}`, 'atrium.t.session').value, undefined);
    assert.equal(getSigned(signer, `atrium.t.session=abc; atrium.t.session.sig=${sig.slice(0, 10)}`, 'atrium.t.session').value, undefined);
    assert.equal(getSigned(signer, 'atrium.t.session=abc', 'atrium.t.session').value, undefined);
  });

  it('answers keygrip\'s index contract directly: the key a signature was made with, or -1', () => {
    const signer = new CookieSigner([current, previous]);
    const byPrevious = new CookieSigner([previous]).sign('x=1');
    assert.equal(signer.index('x=1', signer.sign('x=1')), 0);
    assert.equal(signer.index('x=1', byPrevious), 1);
    assert.equal(signer.verify('x=1', byPrevious), true);
    assert.equal(signer.index('x=2', byPrevious), -1);
    assert.equal(signer.index('x=1', ''), -1);
    assert.throws(() => new CookieSigner([]), /no keys/);
  });
});
