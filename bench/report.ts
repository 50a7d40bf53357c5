/** Formatting of the final report: plain-text tables, one row per figure. */

export interface Row {
  label: string;
  /** The first value column: Atrium, or what `Columns.a` names (e.g. 1 instance). */
  atrium: number;
  /** The second value column: bare oidc-provider, or what `Columns.b` names (e.g. 2 instances). */
  bare: number;
  unit: 'req/s' | 'ms' | 'µs' | 'KiB';
  /** Bare value reused from another row (figure 3 compares to single-tenant bare). */
  bareNote?: string;
  /**
   * The ratio of each round (Atrium's round i over bare's round i, measured back to back):
   * shown as their median and range instead of the ratio of the two values. A ratio within a
   * round compares like with like; the machine's other work moves both sides of it together.
   */
  roundRatios?: readonly number[];
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** A number as the tables show it, with its unit. */
export function formatValue(value: number, unit: Row['unit']): string {
  if (!Number.isFinite(value)) return 'n/a';
  const digits = unit === 'ms' ? (value < 10 ? 2 : 1) : 0;
  return `${value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })} ${unit}`;
}

const ratioText = (ratio: number) => (!Number.isFinite(ratio) ? 'n/a' : ratio >= 10 ? ratio.toFixed(1) : ratio.toFixed(2));

function formatRatio(atrium: number, bare: number): string {
  if (!Number.isFinite(atrium) || !Number.isFinite(bare) || bare === 0) return 'n/a';
  return ratioText(atrium / bare);
}

/** Median of the per-round ratios, and their range: `1.37 (1.22–1.70)`. */
function formatRoundRatios(ratios: readonly number[]): string {
  if (!ratios.length) return 'n/a';
  return `${ratioText(median(ratios))} (${ratioText(Math.min(...ratios))}–${ratioText(Math.max(...ratios))})`;
}

/** Column headings of a comparison table, and which way its ratio is taken. */
export interface Columns {
  figure: string;
  /** Heading of the column holding each row's `atrium` value. */
  a: string;
  /** Heading of the column holding each row's `bare` value. */
  b: string;
  ratio: string;
  /** `a/b` (the default: Atrium/bare) or `b/a` (e.g. 2 instances over 1). */
  ratioOf?: 'a/b' | 'b/a';
}

const ATRIUM_VS_BARE: Columns = { figure: 'Figure', a: 'Atrium', b: 'bare oidc-provider', ratio: 'Atrium/bare' };

export function table(rows: readonly Row[], columns: Columns = ATRIUM_VS_BARE): string {
  const header = [columns.figure, columns.a, columns.b, columns.ratio];
  const cells = rows.map((r) => [
    r.label,
    formatValue(r.atrium, r.unit),
    formatValue(r.bare, r.unit) + (r.bareNote ? ` ${r.bareNote}` : ''),
    r.roundRatios ? formatRoundRatios(columns.ratioOf === 'b/a' ? r.roundRatios.map((x) => 1 / x) : r.roundRatios) : columns.ratioOf === 'b/a' ? formatRatio(r.bare, r.atrium) : formatRatio(r.atrium, r.bare),
  ]);
  return plainTable(header, cells);
}

/** A text table: the first column left-aligned, the others right-aligned. */
export function plainTable(header: readonly string[], cells: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: readonly string[]) => c.map((v, i) => (i === 0 ? v.padEnd(widths[i]!) : v.padStart(widths[i]!))).join('  ');
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  return [line(header), rule, ...cells.map(line)].join('\n');
}

/** Describes an access token from a token response body: JWT with its header, or opaque. */
export function tokenFormat(responseBody: string): string {
  let token: unknown;
  try {
    token = (JSON.parse(responseBody) as { access_token?: unknown }).access_token;
  } catch {
    return `unreadable response: ${responseBody.slice(0, 120)}`;
  }
  if (typeof token !== 'string') return `no access_token: ${responseBody.slice(0, 120)}`;
  const parts = token.split('.');
  if (parts.length === 3) {
    try {
      const header = JSON.parse(Buffer.from(parts[0]!, 'base64url').toString()) as { alg?: string; typ?: string };
      return `JWT, ${header.alg} signed, typ ${header.typ} (${token.length} chars; not stored)`;
    } catch {
      /* not a JWT after all */
    }
  }
  return `opaque reference (${token.length} chars; stored by the adapter)`;
}
