import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { refusedPreparedStatement, StatementNames } from './statement-names.ts';

/** Names as a started instance gives them. */
const started = (configured: boolean) => {
  const names = new StatementNames<object>(configured);
  names.start();
  return names;
};

describe('statement names', () => {
  it('names nothing before the instance has started (start-up never depends on a pooler keeping names)', () => {
    const names = new StatementNames<object>(true);
    const connection = {};
    assert.equal(names.enabled, false);
    assert.equal(names.nameFor(connection, 'SELECT $1'), undefined);
    names.start();
    assert.ok(names.nameFor(connection, 'SELECT $1'));
  });

  it('gives one text the same name on every connection, and another text another name', () => {
    const names = started(true);
    const [a, b] = [{}, {}];
    const first = names.nameFor(a, 'SELECT $1');
    assert.match(first!, /^atrium_[A-Za-z0-9_-]{24}$/);
    assert.equal(names.nameFor(b, 'SELECT $1'), first);
    assert.equal(names.nameFor(a, 'SELECT $1'), first);
    assert.notEqual(names.nameFor(a, 'SELECT $1, $2'), first);
  });

  it('names at most 256 texts per connection; later texts run unnamed there, the named keep their name', () => {
    const names = started(true);
    const [busy, fresh] = [{}, {}];
    for (let i = 0; i < 256; i++) assert.ok(names.nameFor(busy, `SELECT ${i}, $1`));
    assert.equal(names.nameFor(busy, 'SELECT 256, $1'), undefined);
    assert.ok(names.nameFor(busy, 'SELECT 0, $1'), 'a text it has prepared stays named');
    assert.ok(names.nameFor(fresh, 'SELECT 256, $1'), 'the bound is per connection');
  });

  it('names nothing when off, or once refused', () => {
    assert.equal(started(false).nameFor({}, 'SELECT $1'), undefined);
    const names = started(true);
    const connection = {};
    assert.ok(names.nameFor(connection, 'SELECT $1'));
    names.refuse();
    assert.equal(names.enabled, false);
    assert.equal(names.nameFor(connection, 'SELECT $1'), undefined);
  });

  it('recognises the server refusing a name: missing (26000) or already there (42P05), nothing else', () => {
    assert.ok(refusedPreparedStatement(Object.assign(new Error('prepared statement "x" does not exist'), { code: '26000' })));
    assert.ok(refusedPreparedStatement(Object.assign(new Error('prepared statement "x" already exists'), { code: '42P05' })));
    assert.ok(!refusedPreparedStatement(Object.assign(new Error('syntax error'), { code: '42601' })));
    assert.ok(!refusedPreparedStatement(new Error('no code')));
  });
});
