/**
 * The README's configuration reference stays complete (issue 13 acceptance: "list each field
 * in the README's configuration reference with its effect, floor and ceiling"): every leaf of
 * the per-tenant schemas (read from the zod schemas, config-leaves.ts) has a row in
 * "Per-tenant configuration reference" with a default, floor, ceiling and effect, and every
 * bounded field of the operator's policy (PLATFORM_FIELDS) is in the operator policy table.
 * A field added to a schema or to the policy without its README row fails here.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { configLeafPaths } from './support/config-leaves.ts';
import { PLATFORM_FIELDS, PLATFORM_SECTIONS } from '../src/config/platform-policy.ts';
import { RATE_LIMIT_NAMES } from '../src/config/tenant-config-bounds.ts';
import { SOCIAL_PROVIDERS } from '../src/config/tenant-config-schema.ts';

const README = readFileSync('README.md', 'utf8');

/** The text of a `### heading` section, up to the next heading. */
function section(heading: string): string {
  const start = README.indexOf(`\n### ${heading}\n`);
  assert.ok(start >= 0, `README has a "### ${heading}" section`);
  const rest = README.slice(start + heading.length + 6);
  return rest.slice(0, rest.search(/\n#{2,3} /));
}

/** Table rows of a section, as trimmed cells (header and separator left out). */
function rows(text: string): string[][] {
  return text
    .split('\n')
    .filter((l) => l.startsWith('| ') && !/^\| -/.test(l))
    .slice(1)
    .map((l) => l.slice(1, -1).split(/(?<!\\)\|/).map((c) => c.trim()));
}

/** The field paths a first cell names: the first in full, the ones after it in full or as its siblings (`…x` or `x`). */
function namedPaths(cell: string): string[] {
  const names = [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
  const [first, ...siblings] = names;
  if (!first) return [];
  const parent = first.split('.').slice(0, -1).join('.');
  return [first, ...siblings.map((s) => (s.includes('.') && !s.startsWith('…') ? s : `${parent}.${s.replace(/^…/, '')}`))];
}

/** A schema leaf as the reference writes it: a social provider or a rate limit as its placeholder. */
function documentedAs(leaf: string, documented: Set<string>): boolean {
  if (documented.has(leaf)) return true;
  const parts = leaf.split('.');
  if (parts[0] === 'features' && parts[1] === 'social' && (SOCIAL_PROVIDERS as readonly string[]).includes(parts[2]!)) return documented.has(['features', 'social', '<provider>', ...parts.slice(3)].join('.'));
  if (parts[0] === 'security' && parts[1] === 'rate_limits' && (RATE_LIMIT_NAMES as readonly string[]).includes(parts[2]!)) return documented.has(['security', 'rate_limits', '<limit>', ...parts.slice(3)].join('.'));
  return false;
}

describe("the README's configuration reference", () => {
  const reference = rows(section('Per-tenant configuration reference'));
  const documented = new Set(reference.flatMap((r) => namedPaths(r[0]!)));

  it('has a row for every field of every per-tenant section', () => {
    const leaves = configLeafPaths();
    assert.ok(leaves.length > 50);
    assert.deepEqual(leaves.filter((leaf) => !documentedAs(leaf, documented)), [], 'schema fields missing from the README reference');
  });

  it('names no field the schemas do not have', () => {
    const leaves = configLeafPaths();
    const stale = [...documented].filter((path) => !leaves.some((leaf) => leaf === path || documentedAs(leaf, new Set([path]))));
    assert.deepEqual(stale, [], 'README reference rows for fields that do not exist');
  });

  it('gives every row a default, a floor, a ceiling and an effect', () => {
    for (const row of reference) {
      assert.equal(row.length, 5, `five cells: ${row.join(' | ')}`);
      for (const cell of row) assert.ok(cell.length > 0, `no empty cell: ${row.join(' | ')}`);
    }
  });

  it('lists every bounded field of the operator policy with the bounds it takes', () => {
    const policy = rows(section('Operator policy (platform configuration)'));
    for (const name of PLATFORM_SECTIONS) {
      for (const [field, spec] of Object.entries(PLATFORM_FIELDS[name])) {
        const row = policy.find((r) => r[0] === `\`${name}\`` && r[1] === `\`${field}\``);
        assert.ok(row, `${name}.${field} in the operator policy table`);
        for (const bound of spec.kinds) assert.match(row[2]!, new RegExp(`\`${bound}\``), `${name}.${field} takes ${bound}`);
      }
    }
  });
});
