/**
 * `tenant export <slug> --out <file> [--include-audit]` and `tenant import <file> [--replace]`:
 * the operator's door to runtime/tenant-transfer.ts, audited as `system:cli`. The transfer
 * passphrase comes from ATRIUM_TRANSFER_PASSPHRASE or, without it, from standard input (a
 * prompt that does not echo on a terminal, else the first line): never from an argument,
 * which would land in the shell's history and in the process list.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import type { Services } from '../services.ts';
import { runAs } from '../core/request-context.ts';
import { DEFAULT_TENANT, PLATFORM_TENANT } from '../tenancy/slug.ts';

export const TENANT_USAGE = 'tenant export <slug> --out <file> [--include-audit] | tenant import <file> [--replace]';

interface Parsed {
  positional: string[];
  flags: Set<string>;
  out?: string;
}

function parseArgs(args: string[], known: readonly string[]): Parsed {
  const parsed: Parsed = { positional: [], flags: new Set() };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--out') parsed.out = args[++i];
    else if (arg.startsWith('--out=')) parsed.out = arg.slice('--out='.length);
    else if (arg === '--passphrase' || arg.startsWith('--passphrase=')) throw new Error('the passphrase is never an argument (shell history, process list): set ATRIUM_TRANSFER_PASSPHRASE or type it when asked');
    else if (known.includes(arg)) parsed.flags.add(arg);
    else if (arg.startsWith('--')) throw new Error(`unknown option ${arg}; usage: ${TENANT_USAGE}`);
    else parsed.positional.push(arg);
  }
  return parsed;
}

/** The passphrase from the environment, else standard input. */
export async function readPassphrase(): Promise<string> {
  const fromEnv = process.env.ATRIUM_TRANSFER_PASSPHRASE;
  if (fromEnv) return fromEnv;
  const tty = process.stdin.isTTY;
  const rl = createInterface({ input: process.stdin, output: tty ? process.stderr : undefined, terminal: Boolean(tty) });
  if (tty) {
    process.stderr.write('transfer passphrase: ');
    // Echo nothing of what is typed.
    (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput = () => {};
  }
  try {
    const line = await new Promise<string | undefined>((resolve) => {
      rl.once('line', resolve);
      rl.once('close', () => resolve(undefined));
    });
    if (tty) process.stderr.write('\n');
    if (!line) throw new Error('no transfer passphrase: set ATRIUM_TRANSFER_PASSPHRASE or give it on standard input');
    return line;
  } finally {
    rl.close();
  }
}

export type TenantCommand =
  | { action: 'export'; slug: string; out: string; includeAudit: boolean }
  | { action: 'import'; file: string; replace: boolean };

/** The command line, checked before anything is opened: a usage error costs no database start. */
export function parseTenantCommand(args: string[]): TenantCommand {
  const [action, ...rest] = args;
  if (action === 'export') {
    const { positional, flags, out } = parseArgs(rest, ['--include-audit']);
    const slug = positional[0];
    if (!slug || !out || positional.length > 1) throw new Error(`usage: ${TENANT_USAGE}`);
    if (slug === PLATFORM_TENANT || slug === DEFAULT_TENANT) throw new Error('a reserved tenant belongs to its deployment and cannot be exported');
    return { action, slug, out, includeAudit: flags.has('--include-audit') };
  }
  if (action === 'import') {
    const { positional, flags } = parseArgs(rest, ['--replace']);
    const file = positional[0];
    if (!file || positional.length > 1) throw new Error(`usage: ${TENANT_USAGE}`);
    return { action, file, replace: flags.has('--replace') };
  }
  throw new Error(`usage: ${TENANT_USAGE}`);
}

export async function runTenantCommand(services: Services, command: TenantCommand): Promise<void> {
  const cli = { type: 'system', id: 'system:cli' } as const;
  if (command.action === 'export') {
    const tenant = await services.tenantStore.findBySlug(command.slug);
    if (!tenant) throw new Error(`no tenant with slug "${command.slug}"`);
    const passphrase = await readPassphrase();
    const bundle = await runAs(cli, () => services.transfer.exportTenant(tenant, { passphrase, includeAudit: command.includeAudit }));
    await writeFile(command.out, bundle, { mode: 0o600 });
    process.stdout.write(`exported tenant ${command.slug} to ${command.out} (${bundle.length} bytes)\n`);
    return;
  }
  const bundle = await readFile(command.file);
  const passphrase = await readPassphrase();
  const result = await runAs(cli, () => services.transfer.importBundle(bundle, { passphrase, replace: command.replace }));
  const rows = Object.entries(result.rows).map(([t, n]) => `${t} ${n}`).join(', ');
  process.stdout.write(`imported tenant ${result.tenant.slug}${result.replaced ? ' (replaced the one here)' : ''}: ${rows}\n`);
}
