import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { deviceOf, networkOf } from './device-identity.ts';

describe('device identity', () => {
  it('takes the /24 of an IPv4 address, the /64 of an IPv6 one, and an IPv4-mapped address as IPv4', () => {
    assert.equal(networkOf('203.0.113.77'), '203.0.113.0/24');
    assert.equal(networkOf('2001:db8:1:2:aaaa:bbbb:cccc:dddd'), '2001:db8:1:2::/64');
    assert.equal(networkOf('::ffff:198.51.100.9'), '198.51.100.0/24');
    assert.equal(networkOf('not an address'), undefined);
    assert.equal(networkOf(null), undefined);
  });

  it('is one device per browser and OS, or per browser, OS and network', () => {
    const ua = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36';
    assert.equal(deviceOf(ua, '203.0.113.1', false).hash, deviceOf(ua, '198.51.100.1', false).hash);
    assert.notEqual(deviceOf(ua, '203.0.113.1', true).hash, deviceOf(ua, '198.51.100.1', true).hash);
    assert.equal(deviceOf(ua, '203.0.113.1', true).hash, deviceOf(ua, '203.0.113.200', true).hash);
    assert.equal(deviceOf(ua, '203.0.113.1', true).label, 'Chrome · Windows · 203.0.113.0/24');
  });
});
