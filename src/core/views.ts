/** Server-rendered pages: EJS templates under views/, compiled once and cached. */
import ejs from 'ejs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { translator, type Translate } from './i18n.ts';

const VIEWS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../views');

/** What a page shows of the tenant's look (tenancy/branding.ts builds it from the tenant's config). */
export interface Brand {
  name: string;
  /** What the tenant calls its service (`application.title`), in the window title; else the name. */
  title: string;
  /** `application.description`, under the heading of the sign-in and signup pages. */
  description?: string;
  /** `integrations` links, in the footer of every tenant page; absent ones are not shown. */
  links: { website?: string; privacy?: string; terms?: string };
  logoLight?: string;
  logoDark?: string;
  favicon?: string;
  stylesheet: string;
}

export interface PageLocals {
  /** The tenant's display name, shown on every page of the tenant. */
  tenantName: string;
  title: string;
  correlationId?: string | undefined;
  /** Filled by web/page.ts for tenant pages; plain English and the name otherwise. */
  lang?: string;
  t?: Translate;
  brand?: Brand;
  [key: string]: unknown;
}

const english = translator('en');

/** Renders views/<name>.ejs; values are HTML-escaped by EJS (`<%= %>`). */
export function renderPage(name: string, locals: PageLocals): Promise<string> {
  const filled = { lang: 'en', t: english, brand: { name: locals.tenantName, stylesheet: '' }, ...locals };
  return ejs.renderFile(path.join(VIEWS_DIR, `${name}.ejs`), filled, { cache: true });
}
