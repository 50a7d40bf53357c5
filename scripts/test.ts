/**
 * Runs the whole suite with Node's test runner: unit tests beside the code and integration
 * tests under test/. Prints the runner's own summary, then one plain closing line
 * "N passed, N failed" for CI. --test-force-exit ends a test file once its tests are done, so
 * a handle some test forgot to close cannot hold CI until its time limit.
 */
import { spawn } from 'node:child_process';
import { globSync } from 'node:fs';

const files = [...globSync('src/**/*.test.ts'), ...globSync('test/**/*.test.ts')].sort();
const only = process.argv.slice(2);
const selected = only.length ? files.filter((f) => only.some((o) => f.includes(o))) : files;

const child = spawn(process.execPath, ['--test', '--test-reporter=spec', '--test-concurrency=2', '--test-timeout=120000', '--test-force-exit', ...selected], {
  stdio: ['ignore', 'pipe', 'inherit'],
});
let out = '';
child.stdout.on('data', (chunk: Buffer) => {
  out += chunk.toString();
  process.stdout.write(chunk);
});
child.on('close', (code) => {
  const count = (label: string) => Number(new RegExp(`^ℹ ${label} (\\d+)`, 'm').exec(out)?.[1] ?? 0);
  const passed = count('pass');
  const failed = count('fail') + count('cancelled');
  process.stdout.write(`\n${passed} passed, ${failed} failed\n`);
  process.exit(code ?? 1);
});
