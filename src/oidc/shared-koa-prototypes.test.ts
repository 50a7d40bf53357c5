import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import Provider from 'oidc-provider';
import { shareKoaPrototypes } from './shared-koa-prototypes.ts';

const request = (url: string) => ({ url, headers: {} }) as IncomingMessage;
const response = () => ({}) as ServerResponse;

describe('shareKoaPrototypes', () => {
  it("gives two tenants' request contexts the same prototypes, and each its own application", () => {
    const a = new Provider('https://a.example', {});
    const b = new Provider('https://b.example', {});
    // As Koa makes them: one set per application.
    assert.notEqual(Object.getPrototypeOf(a.createContext(request('/'), response()).request), Object.getPrototypeOf(b.createContext(request('/'), response()).request));

    shareKoaPrototypes(a);
    shareKoaPrototypes(b);
    const ctxA = a.createContext(request('/a'), response());
    const ctxB = b.createContext(request('/b'), response());
    assert.equal(Object.getPrototypeOf(ctxA), Object.getPrototypeOf(ctxB));
    assert.equal(Object.getPrototypeOf(ctxA.request), Object.getPrototypeOf(ctxB.request));
    assert.equal(Object.getPrototypeOf(ctxA.response), Object.getPrototypeOf(ctxB.response));
    // What differs per tenant is still per tenant.
    assert.equal(ctxA.app, a);
    assert.equal(ctxB.app, b);
    assert.equal(ctxA.path, '/a');
    assert.equal(ctxB.path, '/b');
  });

  it('refuses state hung on a shared prototype, rather than letting another tenant see it', () => {
    const a = new Provider('https://a.example', {});
    shareKoaPrototypes(a);
    assert.throws(() => Object.assign(a.context, { tenantSecret: 'a' }), TypeError);
    assert.throws(() => Object.assign(a.request, { tenantSecret: 'a' }), TypeError);
    assert.throws(() => Object.assign(a.response, { tenantSecret: 'a' }), TypeError);
  });

  it('refuses an application whose own prototypes already carry something', () => {
    const a = new Provider('https://a.example', {});
    Object.assign(a.context, { extension: () => 'per app' });
    assert.throws(() => shareKoaPrototypes(a), /Koa context is not empty/);
  });
});
