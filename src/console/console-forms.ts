/** Small helpers shared by the console pages (/admin and /platform). */
import { AppError } from '../core/errors.ts';
import type { ConfigSection } from '../config/tenant-config-schema.ts';
import type { Tenant } from '../tenancy/tenant.ts';

type Obj = Record<string, unknown>;

/** A user error (4xx) to show on the form it came from; anything else propagates. */
export function formError(err: unknown): AppError {
  if (err instanceof AppError && err.status >= 400 && err.status < 500 && err.code !== 'invalid_csrf_token') return err;
  throw err;
}

/** A short search term from `?q=`. */
export function searchTerm(value: unknown): string {
  return typeof value === 'string' ? value.trim().slice(0, 200) : '';
}

/**
 * Previous and next links of a list paged by cursor (keyset paging: no page numbers, the total
 * is shown instead), keeping the other query values. `prev`/`next`: the `cursor` value of the
 * page before and after, when there is one.
 */
export function cursorPager(basePath: string, total: number, ends: { prev?: string; next?: string }, keep: Record<string, string> = {}) {
  const href = (cursor: string) => `${basePath}?${new URLSearchParams({ ...keep, cursor }).toString()}`;
  return { total, prev: ends.prev ? href(ends.prev) : null, next: ends.next ? href(ends.next) : null };
}

/** The `?cursor=` of a console list page, if one was given (a value the page checks itself). */
export function cursorParam(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** A form's text field: trimmed, undefined when blank (blank means "use the default"). */
export function text(form: URLSearchParams, name: string): string | undefined {
  const value = (form.get(name) ?? '').trim();
  return value === '' ? undefined : value;
}

/** A plain object as itself; anything else (absent, array, scalar) as an empty one. */
export const obj = (v: unknown): Obj => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {});

/** The tenant's own overrides of a section (not the merged view). */
export function overridesOf(tenant: Tenant, section: ConfigSection): Obj {
  return obj(tenant.config[section]);
}
