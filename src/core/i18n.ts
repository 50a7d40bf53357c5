/**
 * Translations for server-rendered pages. Strings live in `locales/<lang>/<namespace>.json`
 * (flat objects, loaded once at start); a view asks for `t('<namespace>.<key>', vars)`.
 * `{name}` placeholders are filled from `vars`; EJS escapes the result like any value.
 * A missing string falls back to English, then to the key itself, so a half-translated
 * language still renders.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const LOCALES_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../locales');
export const FALLBACK_LOCALE = 'en';

export type Translate = (key: string, vars?: Record<string, string | number>) => string;

function loadCatalogs(): Map<string, Map<string, string>> {
  const catalogs = new Map<string, Map<string, string>>();
  for (const lang of readdirSync(LOCALES_DIR)) {
    const strings = new Map<string, string>();
    for (const file of readdirSync(path.join(LOCALES_DIR, lang))) {
      if (!file.endsWith('.json')) continue;
      const namespace = file.slice(0, -'.json'.length);
      const entries = JSON.parse(readFileSync(path.join(LOCALES_DIR, lang, file), 'utf8')) as Record<string, string>;
      for (const [key, text] of Object.entries(entries)) strings.set(`${namespace}.${key}`, text);
    }
    catalogs.set(lang, strings);
  }
  return catalogs;
}

const catalogs = loadCatalogs();

/** The languages Atrium ships strings for. */
export const SHIPPED_LOCALES: readonly string[] = [...catalogs.keys()].sort();

export function translator(locale: string): Translate {
  const strings = catalogs.get(locale);
  const fallback = catalogs.get(FALLBACK_LOCALE)!;
  return function t(key, vars) {
    const text = strings?.get(key) ?? fallback.get(key) ?? key;
    return vars ? text.replace(/\{(\w+)\}/g, (whole, name: string) => (name in vars ? String(vars[name]) : whole)) : text;
  };
}

/** Base language of a tag: `pt-BR` → `pt`. */
const baseOf = (tag: string) => tag.toLowerCase().split('-')[0]!;

/**
 * The page language: the first of the caller's preferences (an explicit choice such as
 * `ui_locales` or `?lang=`, then Accept-Language by quality) that the tenant offers and
 * Atrium ships; otherwise the tenant's default, otherwise English.
 */
export function negotiateLocale(options: { explicit?: string | undefined; acceptLanguage?: string | undefined; available: readonly string[]; defaultLocale: string }): string {
  const offered = new Set(options.available.map(baseOf).filter((l) => catalogs.has(l)));
  const wanted = [...(options.explicit ?? '').split(/\s+/), ...byQuality(options.acceptLanguage ?? '')].filter(Boolean).map(baseOf);
  for (const lang of wanted) if (offered.has(lang)) return lang;
  const fallback = baseOf(options.defaultLocale);
  return catalogs.has(fallback) ? fallback : FALLBACK_LOCALE;
}

function byQuality(header: string): string[] {
  return header
    .split(',')
    .map((part) => {
      const [tag = '', ...params] = part.trim().split(';');
      const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
      return { tag: tag.trim(), q: q ? Number(q.slice(2)) || 0 : 1 };
    })
    .filter((e) => e.tag && e.tag !== '*' && e.q > 0)
    .sort((a, b) => b.q - a.q)
    .map((e) => e.tag);
}
