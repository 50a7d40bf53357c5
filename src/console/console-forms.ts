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

/** Page number from `?page=` (1-based, bounded). */
export function pageNumber(value: unknown): number {
  const n = typeof value === 'string' ? Number.parseInt(value, 10) : 1;
  return Number.isFinite(n) && n >= 1 ? Math.min(n, 100_000) : 1;
}

/** A short search term from `?q=`. */
export function searchTerm(value: unknown): string {
  return typeof value === 'string' ? value.trim().slice(0, 200) : '';
}

/** Links for the previous and next page of a list, keeping the other query values (a search as `q`). */
export function pager(basePath: string, page: number, pageSize: number, total: number, keep: Record<string, string> = {}) {
  const href = (p: number) => `${basePath}?${new URLSearchParams({ ...keep, page: String(p) }).toString()}`;
  const pages = Math.max(1, Math.ceil(total / pageSize));
  return { page, pages, total, prev: page > 1 ? href(page - 1) : null, next: page < pages ? href(page + 1) : null };
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
