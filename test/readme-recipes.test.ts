/**
 * The README's shell blocks, run as written, so they cannot rot.
 *
 * Every ```sh block of README.md is listed below: either run, or skipped with the reason a
 * new user's machine (or this one) cannot run it as is. A block nobody classified fails the
 * test, and every block, skipped or not, must at least parse (`bash -n`).
 *
 * The runnable ones run in ONE bash, in README order, the way a reader pastes them into one
 * terminal (exports carry over), with a newcomer's environment: no DATABASE_URL or
 * REDIS_URL, so the embedded database and the in-process bus, in a scratch directory that
 * links the project's files. The only edits are the port (a free one instead of 3000) and
 * the glue a reader does by hand between sections (stop the demo before using the CLI on
 * its embedded database, start it again).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort } from './support/atrium.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const README = readFileSync(path.join(ROOT, 'README.md'), 'utf8');

/** Each block, by its first line: what the test does with it. */
const BLOCKS: Record<string, { run: string } | { skip: string }> = {
  'npm ci && npm run demo     # start Atrium (embedded database) with two demo tenants': {
    skip: 'the two commands themselves: CI runs `npm ci` and the test command; the blocks below start the demo',
  },
  'export ATRIUM_BOOTSTRAP_CLIENT_ID=ops ATRIUM_BOOTSTRAP_CLIENT_SECRET=$(openssl rand -hex 32)': { run: 'management' },
  '# discovery and keys of tenant acme': { run: 'curl' },
  "# the management API's OpenAPI 3.1 document (no token needed); the reference page is /api/v1/docs": { run: 'openapi' },
  "export ATRIUM_BOOTSTRAP_ADMIN_EMAIL=you@example.com ATRIUM_BOOTSTRAP_ADMIN_PASSWORD='a long passphrase'": {
    skip: 'a non-demo `npm start` in the foreground with a real PUBLIC_URL; the bootstrap admin is tested by test/platform-ui',
  },
  'ENCRYPTION_KEY=$(openssl rand -base64 32) docker compose up --build': {
    skip: 'needs a Docker engine; test/container-image runs what the image copies, test/multi-instance the compose topology',
  },
  'DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres npm test -- redis-cluster': {
    skip: 'a test command: the suite runs that file',
  },
  'DATABASE_URL=postgres://atrium_runtime:…@pgbouncer.internal:6432/atrium       # through the pooler': {
    skip: 'configuration with placeholders (…); test/pgbouncer runs Atrium through a real PgBouncer',
  },
  'export MULTI_TENANCY_ENABLED=true ATRIUM_TRANSFER_PASSPHRASE="$(openssl rand -base64 24)"': { run: 'transfer-cli' },
  'TOKEN=$(curl -s -u "ops:$ATRIUM_BOOTSTRAP_CLIENT_SECRET" http://localhost:3000/token \\': { run: 'transfer-api' },
  'EGRESS_ALLOW=10.20.0.0/16,idp.corp.example': { skip: 'a configuration example (a variable for the environment)' },
  'DATABASE_MIGRATION_URL=postgres://atrium_owner:…@db/atrium   # migrations, at every start': {
    skip: 'configuration with placeholders (…); test/database-roles runs split logins',
  },
  'npm run cli -- audit-isolation': { run: 'audit-isolation' },
  'curl -s -X POST "$ATRIUM/api/v1/tenants/acme/webhooks" -H "authorization: Bearer $TOKEN" \\': {
    skip: 'an example against a deployment of your own ($ATRIUM) with an https receiver; test/webhooks runs the same call against a local receiver',
  },
};

function shellBlocks(): string[] {
  return [...README.matchAll(/^```sh\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);
}

const firstLine = (block: string) => block.split('\n', 1)[0]!;

test('every shell block of the README is classified and parses', () => {
  for (const block of shellBlocks()) {
    const entry = BLOCKS[firstLine(block)];
    assert.ok(entry, `README block not classified in test/readme-recipes.test.ts (run it here, or say why not):\n${block}`);
    const parsed = spawnSync('bash', ['-n'], { input: block });
    assert.equal(parsed.status, 0, `bash -n: ${parsed.stderr.toString()}`);
  }
});

function blockFor(name: string, port: number): string {
  const block = shellBlocks().find((b) => (BLOCKS[firstLine(b)] as { run?: string } | undefined)?.run === name);
  assert.ok(block, `README has no block for ${name}`);
  return block.replaceAll('localhost:3000', `localhost:${port}`);
}

/** A scratch project: the files `npm run` needs, linked, and nothing of ./data. */
function scratchProject(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'atrium-readme-'));
  for (const name of ['package.json', 'package-lock.json', 'node_modules', 'src', 'views', 'locales', 'public', 'config']) {
    symlinkSync(path.join(ROOT, name), path.join(dir, name));
  }
  return dir;
}

test('the README recipes work as written against a started demo', { skip: process.env.DATABASE_URL ? 'the recipes use the embedded database: run in the embedded pass' : false, timeout: 300_000 }, async () => {
  const port = await freePort();
  const dir = scratchProject();
  const base = `http://localhost:${port}`;
  // npm does not pass a signal on to the node it started: stop the whole tree, as Ctrl-C would.
  // $! is the README's `npm run demo &` (nothing else runs in the background).
  const stopDemo = 'kill_tree() { for c in $(pgrep -P "$1"); do kill_tree "$c"; done; kill "$1" 2> /dev/null || true; }; kill_tree $!; wait $! || true';
  const script = [
    'set -eo pipefail',
    'echo "::management::"',
    blockFor('management', port),
    'echo "::curl::"',
    blockFor('curl', port),
    'echo "::openapi::"',
    blockFor('openapi', port),
    stopDemo,
    'echo "::transfer-cli::"',
    blockFor('transfer-cli', port),
    'echo "::audit-isolation::"',
    blockFor('audit-isolation', port),
    // The transfer API section uses the demo "as in the walkthrough above": start it again.
    `npm run demo > demo-again.log 2>&1 &`,
    `until curl -sf ${base}/readyz > /dev/null; do sleep 1; done`,
    'echo "::transfer-api::"',
    blockFor('transfer-api', port),
    'echo',
    'echo "::done::"',
    stopDemo,
  ].join('\n');
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, PORT: String(port), LOG_LEVEL: 'warn' };
  const child = spawn('bash', ['-c', script], { cwd: dir, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (out += c.toString()));
  try {
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    assert.equal(code, 0, `the recipes failed:\n${out.slice(-4000)}`);
    const section = (name: string) => out.split(`::${name}::`)[1]?.split(/::[a-z-]+::/)[0] ?? '';
    assert.doesNotMatch(out, /"error":"/, `an API call answered an error:\n${out.slice(-4000)}`);

    const management = section('management');
    assert.match(management, /"slug":"initech"/, 'the tenant was created');
    assert.match(management, /"client_secret":"/, 'the client was created, its secret shown once');
    assert.match(management, /"email":"peter@initech.test"/, 'the user was created');
    const curl = section('curl');
    assert.equal(curl.match(new RegExp(`"issuer":"http://acme\\.localhost:${port}"`, 'g'))?.length, 2, 'discovery by subdomain and by header');
    assert.match(curl, /"keys":\[/);
    assert.match(curl, /"status":"ok"/);
    assert.match(section('openapi'), /"openapi":"3\.1/, 'the contract is served without a token');
    assert.match(section('transfer-cli'), /acme/);
    assert.match(section('transfer-api'), /"slug":"acme"/, 'the import answered the tenant');
    assert.match(out, /::done::/);
  } finally {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
    rmSync(dir, { recursive: true, force: true });
  }
});
