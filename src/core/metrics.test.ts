import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { configProblems, loadConfig } from '../config/env.ts';
import { Metrics } from './metrics.ts';
import { routeClassOf } from '../http/metrics-middleware.ts';
import { bearerMatcher } from '../http/metrics-routes.ts';

const problems = configProblems;

describe('metrics', () => {
  it('classifies routes by a few checks on the path', () => {
    const cases: [string, string][] = [
      ['/.well-known/openid-configuration', 'oidc-discovery'],
      ['/token', 'oidc-token'],
      ['/token/introspection', 'oidc-other'],
      ['/auth', 'oidc-authorize'],
      ['/auth/abc123', 'oidc-authorize'],
      ['/authx', 'oidc-other'],
      ['/me', 'oidc-userinfo'],
      ['/jwks', 'oidc-other'],
      ['/session/end', 'oidc-other'],
      ['/interaction/uid/login', 'interaction'],
      ['/demo', 'interaction'],
      ['/api/v1/tenants', 'api'],
      ['/healthz', 'ops'],
      ['/readyz', 'ops'],
      ['/metrics', 'ops'],
      ['/assets/atrium.css', 'assets'],
      ['/', 'oidc-other'],
    ];
    for (const [path, expected] of cases) assert.equal(routeClassOf(path), expected, path);
  });

  it('keeps each instance on a registry of its own', async () => {
    const a = new Metrics({ processMetrics: false });
    const b = new Metrics({ processMetrics: false });
    a.recordRequest('acme', 'oidc-token', 200, 0.002);
    a.recordRequest(undefined, 'ops', 503, 0.001);
    assert.match(await a.text(), /atrium_http_requests_total\{tenant="acme",route_class="oidc-token",status_class="2xx"\} 1/);
    assert.match(await a.text(), /atrium_http_requests_total\{tenant="",route_class="ops",status_class="5xx"\} 1/);
    assert.doesNotMatch(await b.text(), /tenant="acme"/);
  });

  it('reads the pool totals at scrape time and maps unknown event types to "other"', async () => {
    const m = new Metrics({ processMetrics: false });
    const stats = { hits: 3, misses: 2, evictions: 1 };
    m.observePool({ size: 2, stats }, 50);
    stats.hits = 7;
    m.busEventReceived('made.up', -20);
    const text = await m.text();
    assert.match(text, /^atrium_provider_pool_hits_total 7$/m);
    assert.match(text, /^atrium_provider_pool_misses_total 2$/m);
    assert.match(text, /^atrium_provider_pool_size 2$/m);
    assert.match(text, /^atrium_provider_pool_max_size 50$/m);
    assert.match(text, /^atrium_event_bus_lag_seconds_count\{type="other"\} 1$/m);
    assert.match(text, /^atrium_event_bus_lag_seconds_sum\{type="other"\} 0$/m, 'clock skew never makes a negative lag');
    assert.doesNotMatch(text, /^atrium_redis_healthy /m, 'no Redis gauge without a Redis bus');
  });

  it('compares the bearer token exactly', () => {
    const matches = bearerMatcher('0123456789abcdef');
    assert.equal(matches('Bearer 0123456789abcdef'), true);
    assert.equal(matches('bearer 0123456789abcdef'), true);
    assert.equal(matches('Bearer 0123456789abcdeF'), false);
    assert.equal(matches('Bearer 0123456789abcdef0'), false);
    assert.equal(matches('Basic 0123456789abcdef'), false);
    assert.equal(matches(''), false);
  });

  it('validates METRICS_TOKEN and METRICS_PORT', () => {
    const config = loadConfig({ METRICS_TOKEN: 'a-long-enough-token', METRICS_PORT: '9464' });
    assert.deepEqual({ ...config.metrics }, { token: 'a-long-enough-token', port: 9464 });
    assert.deepEqual({ ...loadConfig({}).metrics }, { token: undefined, port: undefined });
    assert.ok(problems({ METRICS_TOKEN: 'short' }).some((p) => p.startsWith('METRICS_TOKEN:')));
    assert.ok(problems({ METRICS_PORT: 'ninety' }).some((p) => p.startsWith('METRICS_PORT:')));
    assert.ok(problems({ METRICS_PORT: '3000' }).some((p) => p.startsWith('METRICS_PORT:')), 'the main port');
  });
});
