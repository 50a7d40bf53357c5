import { test } from 'node:test';
import assert from 'node:assert/strict';
import { negotiateLocale, SHIPPED_LOCALES, translator } from './i18n.ts';

test('English and French are shipped', () => {
  assert.ok(SHIPPED_LOCALES.includes('en'));
  assert.ok(SHIPPED_LOCALES.includes('fr'));
});

test('translates with placeholders and falls back to English, then to the key', () => {
  const fr = translator('fr');
  assert.equal(fr('login.title'), 'Connexion');
  assert.equal(fr('login.continue_to', { client: 'Demo' }), 'pour continuer vers {client}'.replace('{client}', 'Demo'));
  assert.equal(translator('xx')('login.title'), 'Sign in');
  assert.equal(fr('nowhere.nothing'), 'nowhere.nothing');
});

test('negotiates by explicit choice, then Accept-Language quality, within what the tenant offers', () => {
  const available = ['en', 'fr'];
  assert.equal(negotiateLocale({ explicit: 'fr', acceptLanguage: 'en', available, defaultLocale: 'en' }), 'fr');
  assert.equal(negotiateLocale({ acceptLanguage: 'de;q=0.9, fr-CA;q=0.8, en;q=0.1', available, defaultLocale: 'en' }), 'fr');
  assert.equal(negotiateLocale({ acceptLanguage: 'fr', available: ['en'], defaultLocale: 'en' }), 'en', 'a language the tenant does not offer is not used');
  assert.equal(negotiateLocale({ acceptLanguage: 'de', available, defaultLocale: 'fr' }), 'fr', "the tenant's default otherwise");
  assert.equal(negotiateLocale({ acceptLanguage: 'fr;q=0', available, defaultLocale: 'en' }), 'en');
});
