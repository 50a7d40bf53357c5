import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { changedClaims, profileValue, storedProfile } from './profile-claims.ts';

describe('profile claim checks', () => {
  it('takes a birthdate as a real day, a year alone or a day with the year withheld', () => {
    assert.equal(profileValue('birthdate', '1990-12-31'), '1990-12-31');
    assert.equal(profileValue('birthdate', '1990'), '1990');
    assert.equal(profileValue('birthdate', '0000-02-29'), '0000-02-29');
    for (const bad of ['1990-02-29', '1990-13-01', '31/12/1990', '0000', 19901231, '1990-1-1']) assert.equal(profileValue('birthdate', bad), undefined, String(bad));
  });

  it('takes IANA zones and BCP 47 tags (canonical), refuses what the platform does not know', () => {
    assert.equal(profileValue('zoneinfo', 'America/Los_Angeles'), 'America/Los_Angeles');
    assert.equal(profileValue('zoneinfo', 'Mars/Olympus_Mons'), undefined);
    assert.equal(profileValue('zoneinfo', '../../etc/passwd'), undefined);
    assert.equal(profileValue('locale', 'en_us'), 'en-US');
    assert.equal(profileValue('locale', 'fr-CA'), 'fr-CA');
    assert.equal(profileValue('locale', 'en US'), undefined);
  });

  it('takes http(s) URLs only, text without control characters and within its cap', () => {
    assert.equal(profileValue('picture', 'https://cdn.example.test/a.png'), 'https://cdn.example.test/a.png');
    for (const bad of ['javascript:alert(1)', 'data:image/png;base64,AAAA', 'ftp://x.test/a', '/relative']) assert.equal(profileValue('picture', bad), undefined, bad);
    assert.equal(profileValue('given_name', '  Ann  '), 'Ann');
    assert.equal(profileValue('given_name', 'A\u0000nn'), undefined);
    assert.equal(profileValue('given_name', 'x'.repeat(201)), undefined);
    assert.equal(profileValue('nickname', 42), undefined);
  });

  it('keeps only the standard members of an address, and updated_at as epoch seconds', () => {
    assert.deepEqual(profileValue('address', { formatted: 'Main St 1\nTown', country: 'SE', planet: 'Mars', region: 7 }), { formatted: 'Main St 1\nTown', country: 'SE' });
    assert.equal(profileValue('address', { planet: 'Mars' }), undefined);
    assert.equal(profileValue('address', ['SE']), undefined);
    assert.equal(profileValue('updated_at', 1_700_000_000), 1_700_000_000);
    assert.equal(profileValue('updated_at', '2023-11-14T22:13:20Z'), 1_700_000_000);
    assert.equal(profileValue('updated_at', 'yesterday'), undefined);
  });

  it('reads a stored profile by shape, and compares profiles claim by claim whatever the key order', () => {
    assert.deepEqual(storedProfile({ given_name: 'Ann', address: { country: 'SE', locality: 'Lund' }, updated_at: '1', unknown: 'x' }), { given_name: 'Ann', address: { locality: 'Lund', country: 'SE' } });
    assert.deepEqual(changedClaims(storedProfile({ address: { country: 'SE', locality: 'Lund' } }), { address: { locality: 'Lund', country: 'SE' } }), []);
    assert.deepEqual(changedClaims({ given_name: 'Ann' }, { given_name: 'Anne', locale: 'sv' }), ['given_name', 'locale']);
  });
});
