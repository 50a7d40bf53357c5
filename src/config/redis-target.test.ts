import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { configProblems, loadConfig } from './env.ts';

const redisOf = (url: string) => loadConfig({ REDIS_URL: url }).redis;
const problemsOf = (url: string) => configProblems({ REDIS_URL: url });

describe('REDIS_URL', () => {
  it('one server stays a URL, as ioredis takes it', () => {
    assert.deepEqual(redisOf('redis://127.0.0.1:6379'), { kind: 'single', url: 'redis://127.0.0.1:6379' });
    assert.deepEqual(redisOf('rediss://user:pw@cache.internal:6380/2'), { kind: 'single', url: 'rediss://user:pw@cache.internal:6380/2' });
    assert.equal(loadConfig({}).redis, undefined);
  });

  it('redis+cluster:// lists the seed nodes, credentials once before them', () => {
    assert.deepEqual(redisOf('redis+cluster://10.0.0.1:7000,10.0.0.2:7001,cache-3.internal'), {
      kind: 'cluster',
      nodes: [
        { host: '10.0.0.1', port: 7000 },
        { host: '10.0.0.2', port: 7001 },
        { host: 'cache-3.internal', port: 6379 },
      ],
      tls: false,
      username: undefined,
      password: undefined,
    });
    assert.deepEqual(redisOf('rediss+cluster://atrium:p%40ss@a:7000,b:7000'), {
      kind: 'cluster',
      nodes: [
        { host: 'a', port: 7000 },
        { host: 'b', port: 7000 },
      ],
      tls: true,
      username: 'atrium',
      password: 'p@ss',
    });
  });

  it('a comma-separated list of redis:// URLs is a cluster too', () => {
    assert.deepEqual(redisOf('redis://:secret@10.0.0.1:7000, redis://:secret@10.0.0.2:7001'), {
      kind: 'cluster',
      nodes: [
        { host: '10.0.0.1', port: 7000 },
        { host: '10.0.0.2', port: 7001 },
      ],
      tls: false,
      username: undefined,
      password: 'secret',
    });
  });

  it('refuses what cannot be used, naming REDIS_URL and the reason, without echoing a password', () => {
    const cases: [string, RegExp][] = [
      ['http://cache:6379', /not a Redis URL/],
      ['redis+cluster://', /no seed node/],
      ['redis+cluster://a:7000,,b:7000', /empty seed node/],
      ['redis+cluster://a:7000/1,b:7000', /host:port/],
      ['redis+cluster://a:notaport', /not a valid URL/],
      ['redis://a:7000,', /empty entry/],
      ['redis://a:7000/3,redis://b:7000', /only database 0/],
      ['redis://a:7000,rediss://b:7000', /mix redis:\/\/ and rediss:\/\//],
      ['redis://:one@a:7000,redis://:two@b:7000', /different credentials/],
      ['redis://cache:6379/zero', /database number/],
      ['redis://cache:6379?db=1', /query strings/],
    ];
    for (const [url, reason] of cases) {
      const found = problemsOf(url);
      assert.equal(found.length, 1, `${url}: ${found.join('; ')}`);
      assert.ok(found[0]!.startsWith('REDIS_URL: '), found[0]);
      assert.match(found[0]!, reason, url);
    }
    assert.doesNotMatch(problemsOf('redis://:hunter2@a:7000/zero')[0]!, /hunter2/);
  });
});
