/**
 * Nothing accepted and ignored (issue 13, item 1): the list of per-tenant settings is read
 * from the zod schemas, and every leaf must name a test that shows its effect
 * (test/support/setting-effects.ts). A field added to a schema without such a test fails
 * here; so does a registry entry for a field that no longer exists, or a test renamed away.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { configLeafPaths } from './support/config-leaves.ts';
import { AWAITING, PLATFORM_EFFECTS, SETTING_EFFECTS } from './support/setting-effects.ts';
import { PLATFORM_FIELDS, PLATFORM_SECTIONS } from '../src/config/platform-policy.ts';

const leaves = configLeafPaths();

/** A test file's text with string escapes undone, so a title is found however it was quoted. */
function sourceOf(file: string): string {
  return readFileSync(file, 'utf8').replace(/\\(['"`\\])/g, '$1');
}

describe('every per-tenant setting has a test of its effect', () => {
  it('reads the leaves from the schemas, records included', () => {
    assert.ok(leaves.length > 50, `${leaves.length} leaves`);
    assert.ok(leaves.includes('security.rate_limits.login_per_ip.window_seconds'));
    assert.ok(leaves.includes('branding.colors.dark.text'));
    assert.equal(new Set(leaves).size, leaves.length);
  });

  it('names an effect test for every leaf, or lists it as awaiting its implementation', () => {
    const missing = leaves.filter((path) => !SETTING_EFFECTS[path]?.length && !AWAITING.has(path));
    assert.deepEqual(missing, [], `settings without a test of their effect: ${missing.join(', ')}`);
  });

  it('has no entry for a path that is not a leaf of the schemas', () => {
    const stale = [...Object.keys(SETTING_EFFECTS), ...AWAITING].filter((path) => !leaves.includes(path));
    assert.deepEqual(stale, [], `not a setting (any more): ${stale.join(', ')}`);
  });

  it('does not list as awaiting a setting that has its test', () => {
    const both = [...AWAITING].filter((path) => Object.hasOwn(SETTING_EFFECTS, path));
    assert.deepEqual(both, [], `registered and still awaiting: ${both.join(', ')}`);
  });

  it('names tests that exist, in files that mention the setting', () => {
    const problems: string[] = [];
    for (const [path, tests] of Object.entries(SETTING_EFFECTS)) {
      const key = path.split('.').at(-1)!;
      for (const { file, test } of tests) {
        if (!existsSync(file)) {
          problems.push(`${path}: no file ${file}`);
          continue;
        }
        const source = sourceOf(file);
        const quoted = ["'", '"', '`'].some((q) => source.includes(`(${q}${test}${q}`));
        if (!quoted) problems.push(`${path}: no test titled "${test}" in ${file}`);
        if (!new RegExp(`\\b${key}\\b`).test(source)) problems.push(`${path}: ${file} never mentions ${key}`);
      }
    }
    assert.deepEqual(problems, []);
  });
});

/** Every bound of the operator's policy, as `section.field.bound`, read from its declaration. */
const platformBounds = PLATFORM_SECTIONS.flatMap((section) => Object.entries(PLATFORM_FIELDS[section]).flatMap(([field, spec]) => spec.kinds.map((bound) => `${section}.${field}.${bound}`)));

describe('every bound of the platform policy has a test of its effect', () => {
  it('names an effect test for every floor, ceiling and default, and none for a bound that does not exist', () => {
    assert.ok(platformBounds.includes('oidc.key_rotation_days.floor'));
    assert.deepEqual(platformBounds.filter((b) => !PLATFORM_EFFECTS[b]?.length), [], 'platform bounds without a test of their effect');
    assert.deepEqual(Object.keys(PLATFORM_EFFECTS).filter((b) => !platformBounds.includes(b)), [], 'not a platform bound (any more)');
  });

  it('names tests that exist, in files that mention the field', () => {
    const problems: string[] = [];
    for (const [bound, tests] of Object.entries(PLATFORM_EFFECTS)) {
      const key = bound.split('.').at(-2)!;
      for (const { file, test } of tests) {
        const source = existsSync(file) ? sourceOf(file) : '';
        if (!["'", '"', '`'].some((q) => source.includes(`(${q}${test}${q}`))) problems.push(`${bound}: no test titled "${test}" in ${file}`);
        if (!new RegExp(`\\b${key}\\b`).test(source)) problems.push(`${bound}: ${file} never mentions ${key}`);
      }
    }
    assert.deepEqual(problems, []);
  });
});
