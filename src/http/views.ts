/** Server-rendered pages: EJS templates under views/, compiled once and cached. */
import ejs from 'ejs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const VIEWS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../views');

export interface PageLocals {
  /** The tenant's display name, shown on every page of the tenant. */
  tenantName: string;
  title: string;
  correlationId?: string;
  [key: string]: unknown;
}

/** Renders views/<name>.ejs; values are HTML-escaped by EJS (`<%= %>`). */
export function renderPage(name: string, locals: PageLocals): Promise<string> {
  return ejs.renderFile(path.join(VIEWS_DIR, `${name}.ejs`), locals, { cache: true });
}
