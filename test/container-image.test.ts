/**
 * The container image, checked without a Docker engine: its file set is built exactly as
 * the Dockerfile's final stage copies it (dependencies from the dependency stage's own
 * `npm ci --omit=dev`), Atrium is started from that set alone with the image's CMD, ENV and
 * an unprivileged user, and must be ready. compose.yaml's services are checked as far as can
 * be done without an engine: their environment, wiring, healthchecks and volumes.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, globSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../src/config/env.ts';
import { createTestDatabase, freePort, testServerUrl } from './support/atrium.ts';
import { dependsOn, readCompose, serviceEnv } from './support/compose.ts';
import { buildImageFileSet, type ImageFileSet } from './support/dockerfile.ts';
import { startImage, waitReady } from './support/image-process.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const serverUrl = testServerUrl();
const needsPg = serverUrl ? false : 'the image runs in production mode, which requires PostgreSQL (DATABASE_URL)';

/**
 * Files and folders the code reads at run time, found the way the code finds them: string
 * paths resolved against `import.meta.url`. A folder added this way and not shipped fails here.
 */
function runtimeReadPaths(): string[] {
  const found = new Set<string>();
  for (const file of globSync('src/**/*.ts', { cwd: ROOT })) {
    if (file.endsWith('.test.ts')) continue;
    for (const line of readFileSync(path.join(ROOT, file), 'utf8').split('\n')) {
      if (!line.includes('import.meta.url')) continue;
      for (const [, rel] of line.matchAll(/'(\.{1,2}\/[^']*)'/g)) found.add(path.relative(ROOT, path.resolve(ROOT, path.dirname(file), rel!)));
    }
  }
  return [...found].sort();
}

let image: ImageFileSet;
const appDir = () => path.join(image.root, image.workdir);

before(() => {
  image = buildImageFileSet(ROOT);
});
after(() => image?.remove());

describe('the image file set', () => {
  test('holds every file and folder the code reads at run time', () => {
    const paths = runtimeReadPaths();
    assert.ok(paths.includes('locales') && paths.includes('views'), `the scan finds the known folders: ${paths.join(', ')}`);
    const missing = paths.filter((p) => !existsSync(path.join(appDir(), p)));
    assert.deepEqual(missing, [], `read at run time but not in the image: ${missing.join(', ')}`);
  });

  test('holds production dependencies only, and no tests, benchmarks or local data', () => {
    const lock = JSON.parse(readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> };
    const devOnly = Object.entries(lock.packages).filter(([p, meta]) => p && meta.dev).map(([p]) => p);
    assert.ok(devOnly.length > 0);
    const shipped = devOnly.filter((p) => existsSync(path.join(appDir(), p)));
    assert.deepEqual(shipped, [], `dev-only packages in the image: ${shipped.join(', ')}`);
    for (const prod of ['node_modules/koa', 'node_modules/oidc-provider', 'node_modules/pg']) assert.ok(existsSync(path.join(appDir(), prod)), prod);
    for (const absent of ['test', 'bench', 'data', '.git', '.env']) assert.ok(!existsSync(path.join(appDir(), absent)), `${absent} must not be in the image`);
    assert.deepEqual(globSync('src/**/*.test.ts', { cwd: appDir() }), [], 'unit tests stay out of the image');
  });
});

describe('the image starts', { skip: needsPg }, () => {
  test('with its CMD and ENV, production dependencies only, as its USER: /readyz 200 and the HEALTHCHECK passes', async () => {
    assert.equal(image.env.ATRIUM_ENV, 'production');
    assert.ok(image.user && image.user !== 'root', 'the image does not run as root');
    const database = await createTestDatabase(serverUrl!);
    const instance = startImage(image, {
      PUBLIC_URL: 'https://id.example.test',
      DATABASE_URL: database.url,
      ENCRYPTION_KEY: randomBytes(32).toString('base64'),
      ...(process.env.REDIS_URL ? { REDIS_URL: process.env.REDIS_URL } : {}),
    }, await freePort());
    try {
      const ready = await waitReady(instance);
      assert.equal(JSON.parse(ready.text).checks.database, 'ok');
      assert.equal(await instance.healthcheck(), 0, 'the Dockerfile HEALTHCHECK command succeeds against the running server');
    } finally {
      await instance.stop();
      await database.drop();
    }
  });
});

describe('compose.yaml', () => {
  const hostEnv = { ENCRYPTION_KEY: randomBytes(32).toString('base64') };
  const compose = () => readCompose(path.join(ROOT, 'compose.yaml'), hostEnv);
  const atriumServices = () => Object.entries(compose().services).filter(([, s]) => s.build !== undefined);

  test('refuses to start without ENCRYPTION_KEY, as its header promises', () => {
    assert.throws(() => readCompose(path.join(ROOT, 'compose.yaml'), {}), /ENCRYPTION_KEY/);
  });

  test('every Atrium service builds this Dockerfile and its environment passes the config schema', () => {
    const services = atriumServices();
    assert.ok(services.length >= 2, 'the reference deployment runs two instances');
    for (const [name, service] of services) {
      const context = typeof service.build === 'string' ? service.build : (service.build?.context ?? '.');
      assert.equal(path.resolve(ROOT, context), ROOT, `${name} builds the repository's Dockerfile`);
      const config = loadConfig({ ...image.env, ...serviceEnv(service) });
      assert.equal(config.env, 'production', name);
    }
  });

  test('services reach each other by name, with matching credentials, ports and healthchecks', () => {
    const { services, volumes = {} } = compose();
    for (const [name, service] of atriumServices()) {
      const env = serviceEnv(service);
      const db = new URL(env.DATABASE_URL!);
      const pgService = services[db.hostname];
      assert.ok(pgService?.image?.startsWith('postgres'), `${name}: DATABASE_URL names the postgres service`);
      const pgEnv = serviceEnv(pgService!);
      assert.deepEqual([decodeURIComponent(db.username), decodeURIComponent(db.password), db.pathname.slice(1), db.port || '5432'], [pgEnv.POSTGRES_USER, pgEnv.POSTGRES_PASSWORD, pgEnv.POSTGRES_DB, '5432'], `${name}: database credentials`);
      if (env.REDIS_URL) assert.ok(services[new URL(env.REDIS_URL).hostname]?.image?.startsWith('redis'), `${name}: REDIS_URL names the redis service`);
      for (const [dep, condition] of Object.entries(dependsOn(service))) {
        assert.ok(services[dep], `${name} depends on ${dep}, which exists`);
        if (condition === 'service_healthy') assert.ok(services[dep].healthcheck?.test, `${name} waits for ${dep} to be healthy: it needs a healthcheck`);
      }
    }
    for (const [name, service] of Object.entries(services)) {
      for (const volume of service.volumes ?? []) {
        const [source = ''] = volume.split(':');
        if (source.startsWith('.') || source.startsWith('/')) assert.ok(existsSync(path.resolve(ROOT, source)), `${name}: bind mount ${source} exists`);
        else assert.ok(source in volumes, `${name}: named volume ${source} is declared`);
      }
    }
  });

  test('the proxy forwards to every Atrium instance on the image\'s port, and PUBLIC_URL is where it listens', () => {
    const { services } = compose();
    const instances = atriumServices().map(([name]) => name);
    for (const [name, service] of Object.entries(services)) {
      const conf = (service.volumes ?? []).map((v) => v.split(':')[0]!).find((s) => s.endsWith('.conf'));
      if (!conf) continue;
      const text = readFileSync(path.resolve(ROOT, conf), 'utf8');
      const upstreams = [...text.matchAll(/^\s*server\s+([\w.-]+):(\d+)/gm)].map((m) => [m[1]!, Number(m[2])] as const);
      assert.deepEqual(upstreams.map(([host]) => host).sort(), [...instances].sort(), `${name}: upstream servers are the Atrium services`);
      for (const [host, port] of upstreams) {
        const instancePort = Number(serviceEnv(services[host]!).PORT ?? image.env.PORT);
        assert.equal(port, instancePort, `${name}: ${host} listens on ${instancePort}`);
        assert.ok(image.exposed.includes(port), `the image exposes ${port}`);
      }
      const listen = Number(/^\s*listen\s+(\d+)/m.exec(text)?.[1]);
      const published = (service.ports ?? []).map((p) => p.split(':')).find((p) => Number(p.at(-1)) === listen);
      assert.ok(published, `${name}: the port nginx listens on (${listen}) is published`);
      for (const instance of instances) {
        const publicUrl = new URL(serviceEnv(services[instance]!).PUBLIC_URL!);
        assert.equal(publicUrl.port || (publicUrl.protocol === 'https:' ? '443' : '80'), published[0], `${instance}: PUBLIC_URL is the proxy's published port`);
      }
    }
  });

  test('an Atrium service starts from the image with its compose environment and passes the image healthcheck', { skip: needsPg }, async () => {
    const [name, service] = atriumServices()[0]!;
    const database = await createTestDatabase(serverUrl!);
    // The service names postgres and redis resolve only inside compose's network: the test's own servers stand in.
    const env: Record<string, string> = { ...serviceEnv(service), DATABASE_URL: database.url };
    if (process.env.REDIS_URL) env.REDIS_URL = process.env.REDIS_URL;
    else delete env.REDIS_URL;
    const instance = startImage(image, env, await freePort());
    try {
      await waitReady(instance);
      assert.equal(await instance.healthcheck(), 0, `${name}: healthcheck`);
    } finally {
      await instance.stop();
      await database.drop();
    }
  });
});
