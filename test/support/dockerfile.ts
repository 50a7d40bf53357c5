/**
 * What the container image holds, worked out without a Docker engine: the Dockerfile's
 * stages and instructions, the build context as `.dockerignore` filters it, and the final
 * stage's file set built in a directory (its `COPY` lines, with the dependency stage's
 * `npm` commands run for real). Only what the image would hold is in that directory.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface Instruction {
  keyword: string;
  args: string;
}

export interface Stage {
  name: string | undefined;
  base: string;
  instructions: Instruction[];
}

/** Stages in order, each with its instructions (continuations joined, comments dropped). */
export function parseDockerfile(text: string): Stage[] {
  const lines: string[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    if (/^\s*#/.test(raw)) continue;
    const line = raw.trimEnd();
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1)} `;
      continue;
    }
    const joined = (pending + line).trim();
    pending = '';
    if (joined) lines.push(joined);
  }
  const stages: Stage[] = [];
  for (const line of lines) {
    const [, keyword = '', args = ''] = /^(\S+)\s*(.*)$/.exec(line) ?? [];
    if (keyword.toUpperCase() === 'FROM') {
      const [base = '', as, name] = args.split(/\s+/);
      stages.push({ base, name: as?.toUpperCase() === 'AS' ? name : undefined, instructions: [] });
    } else {
      if (!stages.length) throw new Error(`Dockerfile: ${keyword} before FROM`);
      stages.at(-1)!.instructions.push({ keyword: keyword.toUpperCase(), args });
    }
  }
  return stages;
}

/** An exec-form (`["a", "b"]`) or shell-form argument list. */
export function commandOf(args: string): string[] {
  return args.trimStart().startsWith('[') ? (JSON.parse(args) as string[]) : ['/bin/sh', '-c', args];
}

/** `ENV A=1 B="two"` (and the legacy `ENV A 1`). */
export function envOf(args: string): Record<string, string> {
  if (!args.includes('=')) {
    const [key = '', ...rest] = args.split(/\s+/);
    return { [key]: rest.join(' ') };
  }
  const env: Record<string, string> = {};
  for (const match of args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("(?:[^"\\]|\\.)*"|\S*)/g)) {
    const value = match[2]!;
    env[match[1]!] = value.startsWith('"') ? (JSON.parse(value) as string) : value;
  }
  return env;
}

interface Copy {
  from: string | undefined;
  sources: string[];
  dest: string;
}

function copyOf(args: string): Copy {
  const words = args.trimStart().startsWith('[') ? (JSON.parse(args) as string[]) : args.split(/\s+/);
  const flags = words.filter((w) => w.startsWith('--'));
  const paths = words.filter((w) => !w.startsWith('--'));
  const from = flags.find((f) => f.startsWith('--from='))?.slice('--from='.length);
  return { from, sources: paths.slice(0, -1), dest: paths.at(-1)! };
}

/** Files of the build context that `.dockerignore` lets through (relative, `/`-separated). */
export function contextFiles(contextDir: string): string[] {
  const ignoreFile = path.join(contextDir, '.dockerignore');
  const rules = existsSync(ignoreFile)
    ? readFileSync(ignoreFile, 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'))
      .map((l) => ({ exclude: !l.startsWith('!'), pattern: path.posix.normalize(l.replace(/^!/, '').replace(/^\/+/, '')).replace(/\/+$/, '') }))
    : [];
  // Docker's rule: the last pattern matching the path or one of its parent folders decides.
  const ignored = (rel: string) => {
    const parts = rel.split('/');
    const prefixes = parts.map((_, i) => parts.slice(0, i + 1).join('/'));
    let out = false;
    for (const rule of rules) if (prefixes.some((p) => path.posix.matchesGlob(p, rule.pattern))) out = rule.exclude;
    return out;
  };
  const files: string[] = [];
  const walk = (rel: string) => {
    for (const entry of readdirSync(path.join(contextDir, rel), { withFileTypes: true })) {
      const child = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory()) walk(child);
      else if (!ignored(child)) files.push(child);
    }
  };
  walk('');
  return files.sort();
}

/** Copies `sources` (context-relative) into `destDir` as `COPY src dest` does. */
function copyFromContext(contextDir: string, allowed: readonly string[], sources: string[], dest: string, destIsDir: boolean): void {
  for (const source of sources) {
    const src = path.posix.normalize(source).replace(/^\.\/?|\/$/g, '');
    const isDir = src === '' || (existsSync(path.join(contextDir, src)) && statSync(path.join(contextDir, src)).isDirectory());
    const picked = allowed.filter((f) => (src === '' ? true : isDir ? f.startsWith(`${src}/`) : f === src));
    if (!picked.length) throw new Error(`COPY ${source}: nothing in the build context (missing or .dockerignored)`);
    for (const file of picked) {
      const rel = isDir ? (src === '' ? file : file.slice(src.length + 1)) : path.posix.basename(file);
      const target = isDir || destIsDir ? path.join(dest, rel) : dest;
      mkdirSync(path.dirname(target), { recursive: true });
      cpSync(path.join(contextDir, file), target);
    }
  }
}

/** Resolves a path of the image (absolute, or relative to WORKDIR) inside `root`. */
const inImage = (root: string, workdir: string, p: string) => path.join(root, path.posix.resolve(workdir, p));

function workdirOf(stage: Stage): string {
  return stage.instructions.filter((i) => i.keyword === 'WORKDIR').reduce((dir, i) => path.posix.resolve(dir, i.args), '/');
}

/**
 * Runs a build stage's instructions in `root`: WORKDIR, COPY from the context and the RUN
 * lines that are npm commands (system packages such as apt-get cannot be reproduced here,
 * and the npm commands are the ones whose output the final stage takes).
 */
function buildStage(stage: Stage, contextDir: string, allowed: readonly string[], root: string): void {
  let workdir = '/';
  for (const { keyword, args } of stage.instructions) {
    if (keyword === 'WORKDIR') workdir = path.posix.resolve(workdir, args);
    else if (keyword === 'COPY') {
      const copy = copyOf(args);
      if (copy.from) throw new Error(`stage ${stage.name}: COPY --from is not reproduced in a dependency stage`);
      copyFromContext(contextDir, allowed, copy.sources, inImage(root, workdir, copy.dest), copy.dest.endsWith('/'));
    } else if (keyword === 'RUN') {
      for (const command of args.split('&&').map((c) => c.trim()).filter((c) => /^npm\s/.test(c))) {
        const cwd = inImage(root, workdir, '.');
        mkdirSync(cwd, { recursive: true });
        execFileSync('/bin/sh', ['-c', command], { cwd, stdio: ['ignore', 'ignore', 'inherit'], env: { PATH: process.env.PATH, HOME: process.env.HOME ?? os.homedir() } });
      }
    }
  }
}

/**
 * A dependency stage's result, cached by what went into it (its instructions and the files
 * it copies): `npm ci` runs once per package-lock.json, not once per test run.
 */
function builtStage(stage: Stage, contextDir: string, allowed: readonly string[]): string {
  const hash = createHash('sha256').update(JSON.stringify(stage));
  for (const { keyword, args } of stage.instructions) {
    if (keyword !== 'COPY') continue;
    for (const src of copyOf(args).sources) for (const f of allowed.filter((f) => f === src || f.startsWith(`${src}/`))) hash.update(f).update(readFileSync(path.join(contextDir, f)));
  }
  const cacheRoot = path.join(os.tmpdir(), 'atrium-image-stages');
  const dir = path.join(cacheRoot, hash.digest('hex').slice(0, 24));
  if (existsSync(dir)) return dir;
  mkdirSync(cacheRoot, { recursive: true });
  const work = mkdtempSync(path.join(cacheRoot, 'build-'));
  buildStage(stage, contextDir, allowed, work);
  try {
    renameSync(work, dir);
  } catch (err) {
    // Another test process finished the same stage first: use theirs.
    rmSync(work, { recursive: true, force: true });
    if (!existsSync(dir)) throw err;
  }
  return dir;
}

export interface ImageFileSet {
  /** The image's root: `{root}{WORKDIR}` is where CMD runs. */
  root: string;
  workdir: string;
  env: Record<string, string>;
  user: string | undefined;
  cmd: string[];
  healthcheck: string[] | undefined;
  exposed: number[];
  remove(): void;
}

/** Builds the final stage's file set in a fresh temporary directory. */
export function buildImageFileSet(contextDir: string, dockerfile = 'Dockerfile'): ImageFileSet {
  const stages = parseDockerfile(readFileSync(path.join(contextDir, dockerfile), 'utf8'));
  const final = stages.at(-1)!;
  const allowed = contextFiles(contextDir);
  const root = mkdtempSync(path.join(os.tmpdir(), 'atrium-image-'));
  const image: ImageFileSet = {
    root, workdir: '/', env: {}, user: undefined, cmd: [], healthcheck: undefined, exposed: [],
    remove: () => rmSync(root, { recursive: true, force: true }),
  };
  for (const { keyword, args } of final.instructions) {
    if (keyword === 'WORKDIR') image.workdir = path.posix.resolve(image.workdir, args);
    else if (keyword === 'ENV') Object.assign(image.env, envOf(args));
    else if (keyword === 'USER') image.user = args;
    else if (keyword === 'CMD') image.cmd = commandOf(args);
    else if (keyword === 'EXPOSE') image.exposed.push(...args.split(/\s+/).map((p) => Number.parseInt(p, 10)));
    else if (keyword === 'HEALTHCHECK') image.healthcheck = /\bCMD\s+(.*)$/.exec(args) ? commandOf(/\bCMD\s+(.*)$/.exec(args)![1]!) : undefined;
    else if (keyword === 'COPY') {
      const copy = copyOf(args);
      const dest = inImage(root, image.workdir, copy.dest);
      if (!copy.from) {
        copyFromContext(contextDir, allowed, copy.sources, dest, copy.dest.endsWith('/') || copy.sources.length > 1);
        continue;
      }
      const from = stages.find((s) => s.name === copy.from);
      if (!from) throw new Error(`COPY --from=${copy.from}: no such stage`);
      const built = builtStage(from, contextDir, allowed);
      for (const source of copy.sources) cpSync(inImage(built, workdirOf(from), source), dest, { recursive: true });
    } else if (keyword === 'RUN') {
      throw new Error(`the final stage's RUN ${args} is not reproduced by this test: reproduce it or move it to a build stage`);
    }
  }
  mkdirSync(inImage(root, image.workdir, '.'), { recursive: true });
  return image;
}
