import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { SecretBox } from '../core/secret-box.ts';
import { maskSection, mergedSection, openTenantSecret, parseSection, sealSection, SECRET_MASK } from './tenant-config.ts';

const box = new SecretBox(randomBytes(32).toString('base64'));

describe('tenant configuration', () => {
  it('merges overrides over the defaults, objects key by key, arrays replaced', () => {
    const merged = mergedSection({ config: { application: { available_locales: ['fr'] }, branding: { colors: { light: { primary: '#000' } } } } }, 'branding');
    assert.equal(merged.colors && (merged.colors as any).light.primary, '#000');
    assert.equal((merged.colors as any).light.background, '#ffffff');
    assert.deepEqual(mergedSection({ config: { application: { available_locales: ['fr'] } } }, 'application').available_locales, ['fr']);
  });

  it('applies the password floor to a stored value below it', () => {
    const merged = mergedSection({ config: { security: { password_policy: { min_length: 4 } } } }, 'security');
    assert.equal((merged.password_policy as any).min_length, 8);
  });

  it('names every unknown field and every broken bound', () => {
    assert.throws(() => parseSection('oidc', { a: 1, b: 2 }), /oidc\.a: unknown field; oidc\.b: unknown field/);
    assert.throws(() => parseSection('oidc', { access_token_ttl: 100_000, id_token_ttl: 100_000 }), /oidc\.access_token_ttl: at most 86400 \(platform ceiling\); oidc\.id_token_ttl: at most 86400 \(platform ceiling\)/);
    assert.throws(() => parseSection('security', { password_policy: { min_length: 7 } }), /security\.password_policy\.min_length: at least 8/);
    assert.deepEqual(parseSection('oidc', {}), {});
  });

  it('seals secrets bound to the tenant, keeps them when omitted or masked, masks them', () => {
    const tenant = { id: 't1', config: {} };
    const sealed = sealSection(box, tenant, 'integrations', { smtp: { password: 'hunter22' } });
    const stored = { id: 't1', config: { integrations: sealed } };
    assert.equal(openTenantSecret(box, stored, 'integrations.smtp.password'), 'hunter22');
    assert.throws(() => openTenantSecret(box, { ...stored, id: 't2' }, 'integrations.smtp.password'));
    for (const smtp of [{ host: 'h' }, { host: 'h', password: SECRET_MASK }]) {
      const again = sealSection(box, stored, 'integrations', { smtp });
      assert.equal((again.smtp as any).password, (sealed.smtp as any).password);
    }
    assert.equal((sealSection(box, stored, 'integrations', { smtp: { password: null } }).smtp as any).password, undefined);
    assert.deepEqual(sealSection(box, stored, 'integrations', {}), {});
    assert.equal((maskSection('integrations', sealed).smtp as any).password, SECRET_MASK);
  });
});
