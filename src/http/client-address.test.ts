import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { loadConfig } from '../config/env.ts';
import { clientAddressOf, forwardingNormaliser } from './client-address.ts';

/** A request from `peer` with these headers, after the edge normaliser under TRUST_PROXY=`trust`. */
function seen(trust: string, peer: string, headers: Record<string, string> = {}) {
  const req = { headers: { ...headers }, socket: { remoteAddress: peer } } as unknown as IncomingMessage;
  forwardingNormaliser(loadConfig({ TRUST_PROXY: trust }).trustProxy)(req);
  return { ip: clientAddressOf(req), proto: req.headers['x-forwarded-proto'], host: req.headers['x-forwarded-host'] };
}

describe('client address (TRUST_PROXY)', () => {
  it('false: the peer, whatever it forwards', () => {
    assert.deepEqual(seen('false', '203.0.113.9', { 'x-forwarded-for': '1.2.3.4', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'evil.test' }), { ip: '203.0.113.9', proto: undefined, host: undefined });
  });

  it('a hop count steps over that many addresses from the right, never further', () => {
    assert.equal(seen('1', '10.0.0.5', { 'x-forwarded-for': 'spoofed, 198.51.100.7' }).ip, '198.51.100.7');
    assert.equal(seen('2', '10.0.0.5', { 'x-forwarded-for': '1.1.1.1, 198.51.100.7, 10.0.0.4' }).ip, '198.51.100.7');
    assert.equal(seen('1', '10.0.0.5').ip, '10.0.0.5', 'no header: the peer');
    assert.equal(seen('1', '10.0.0.5', { 'x-forwarded-proto': 'https' }).proto, 'https');
  });

  it('a CIDR list believes only listed peers, and walks left while addresses are listed', () => {
    assert.equal(seen('10.0.0.0/8', '203.0.113.9', { 'x-forwarded-for': '1.2.3.4' }).ip, '203.0.113.9', 'an unlisted peer is the client');
    assert.equal(seen('10.0.0.0/8', '203.0.113.9', { 'x-forwarded-proto': 'https' }).proto, undefined);
    assert.equal(seen('10.0.0.0/8', '10.0.0.5', { 'x-forwarded-for': '1.2.3.4, 198.51.100.7, 10.0.0.4' }).ip, '198.51.100.7');
    assert.equal(seen('10.0.0.0/8, 2001:db8::/32', '2001:db8::1', { 'x-forwarded-for': '198.51.100.8' }).ip, '198.51.100.8');
    assert.equal(seen('10.0.0.0/8', '::ffff:10.0.0.5', { 'x-forwarded-for': '198.51.100.9' }).ip, '198.51.100.9', 'an IPv4 peer on a dual-stack socket');
  });

  it('true: one hop, and only from a loopback or private peer', () => {
    assert.equal(seen('true', '127.0.0.1', { 'x-forwarded-for': 'spoofed, 198.51.100.7' }).ip, '198.51.100.7');
    assert.equal(seen('true', '172.18.0.3', { 'x-forwarded-for': '10.1.1.1, 198.51.100.7' }).ip, '198.51.100.7', 'one hop only, even when the next is private');
    assert.equal(seen('true', '203.0.113.9', { 'x-forwarded-for': '198.51.100.7' }).ip, '203.0.113.9', 'a public peer is not a proxy');
  });

  it('X-Forwarded-Host is never believed, not even from a proxy', () => {
    assert.equal(seen('1', '10.0.0.5', { 'x-forwarded-host': 'other.example' }).host, undefined);
  });
});
