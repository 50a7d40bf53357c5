/**
 * Keyset (cursor) paging over `(created_at, <key>)`, the order of the users and clients lists:
 * a page starts in the tenant's `(tenant_id, created_at, <key>)` index right after (or before)
 * a row's position, so the last page of 10,000 reads as few rows as the first. OFFSET reads
 * and discards every row before its page.
 *
 * A position's time is whole microseconds since the epoch, computed and compared in SQL: a
 * JavaScript Date keeps milliseconds, and two rows created within one millisecond would
 * otherwise be skipped or repeated at a page boundary.
 */

/** A row's place in the order: `us` created_at in microseconds (decimal digits), `key` the tie-breaking column. */
export interface Position {
  readonly us: string;
  readonly key: string;
}

/** Which way a page goes from its position: `after` reads forward, `before` backward (the previous page). */
export type Direction = 'after' | 'before';

/** The select-list item giving each row's position time (read back as `position_us`). */
export const POSITION_US = '(extract(epoch FROM created_at) * 1000000)::bigint::text AS position_us';

/**
 * The WHERE condition and ORDER BY of a page: rows strictly after (or before) the position in
 * `$us`/`$key`; a null `$us` is the first page. `keyType`: the key column's SQL type.
 */
export function keysetPage(key: string, keyType: 'uuid' | 'text', usParam: number, keyParam: number, direction: Direction): { where: string; orderBy: string } {
  const op = direction === 'after' ? '>' : '<';
  const dir = direction === 'after' ? 'ASC' : 'DESC';
  return {
    where: `($${usParam}::bigint IS NULL OR (created_at, ${key}) ${op} ('epoch'::timestamptz + $${usParam}::bigint * interval '1 microsecond', $${keyParam}::${keyType}))`,
    orderBy: `ORDER BY created_at ${dir}, ${key} ${dir}`,
  };
}

/** What a store's keyset page says besides its rows: where the next and previous pages start, if they exist. */
export interface PageEnds {
  next?: Position;
  previous?: Position;
}

/**
 * Trims the `limit + 1` rows read (in the page's direction) to the page, in ascending order,
 * and says whether pages follow or precede it. `from`: the position the page was asked
 * from (undefined: the first page); `offset`: the older paging's offset, if that was used.
 */
export function pageOf<R extends { position_us: string }>(rows: R[], limit: number, keyOf: (row: R) => string, from: { direction: Direction; position?: Position; offset?: number }): { rows: R[]; ends: PageEnds } {
  const extra = rows.length > limit;
  const page = rows.slice(0, limit);
  if (from.direction === 'before') page.reverse();
  const at = (row: R | undefined): Position | undefined => (row ? { us: row.position_us, key: keyOf(row) } : undefined);
  const forward = from.direction === 'after';
  const hasNext = forward ? extra : true;
  const hasPrevious = forward ? Boolean(from.position) || (from.offset ?? 0) > 0 : extra;
  return { rows: page, ends: { next: hasNext ? at(page.at(-1)) : undefined, previous: hasPrevious ? at(page[0]) : undefined } };
}
