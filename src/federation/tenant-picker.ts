/**
 * The public tenant picker (issue 14, item 5): the tenants that chose `features.tenant_picker`,
 * a page at a time, and home-realm discovery by email domain among them only.
 *
 * Both reads are one query each, driven by the partial index of listed tenants (migration
 * 016): the listing walks it in slug order from a cursor; discovery takes the listed tenants
 * first and only then looks at their connections, so an unlisted tenant's rows are never
 * read. That is what keeps an unlisted tenant's domain indistinguishable from an unknown
 * one, by answer and by timing: the work depends on the listed tenants alone, never on
 * whether some unlisted tenant claims the domain (a domain index over every connection
 * would fetch, and so time, the unlisted tenant's row). Nothing is cached, so a change of
 * the setting is seen by every instance at its next request. Every URL comes from the
 * tenant's issuer (issuerUrl), never from the request.
 */
import type { AtriumConfig } from '../config/env.ts';
import type { Database } from '../storage/database.ts';
import { issuerFor, issuerUrl, platformTenantSlug } from '../tenancy/tenant.ts';

export interface PickerEntry {
  slug: string;
  /** The tenant's branding.company_name when it set one, else its name. */
  displayName: string;
  logo: { light: string | null; dark: string | null };
  issuer: string;
  signInUrl: string;
  /** Home-realm discovery only: the connection that claims the domain. */
  connection?: string;
}

interface PickerRow {
  id: string;
  slug: string;
  name: string;
  company_name: string | null;
  logo_light: string | null;
  logo_dark: string | null;
  primary_domain: string | null;
  connection?: string;
}

/** The listed, active tenants: written out literally, as the partial index's predicate is, so the planner uses it. */
const LISTED = `t.status = 'active' AND (t.config #>> '{features,tenant_picker}') = 'true'`;
const COLUMNS = `t.id, t.slug, t.name, t.config #>> '{branding,company_name}' AS company_name,
  t.config #>> '{branding,logos,light}' AS logo_light, t.config #>> '{branding,logos,dark}' AS logo_dark,
  (SELECT d.domain FROM tenant_domains d WHERE d.tenant_id = t.id AND d.is_primary) AS primary_domain`;

/**
 * The two queries ($1 the cursor or the domain, $2 the platform tenant's slug, $3 the limit),
 * exported so a test can show the planner serves them from the index.
 */
export const PICKER_QUERIES = {
  page: `SELECT ${COLUMNS} FROM tenants t WHERE ${LISTED} AND t.slug > $1 AND t.slug <> $2 ORDER BY t.slug LIMIT $3`,
  discover: `WITH listed AS MATERIALIZED (
      SELECT ${COLUMNS} FROM tenants t
      WHERE ${LISTED} AND t.slug <> $2 AND (t.config #>> '{features,enterprise_sso}') IS DISTINCT FROM 'false')
    SELECT l.*, c.name AS connection FROM listed l
    CROSS JOIN LATERAL (
      SELECT fc.name FROM federation_connections fc
      WHERE fc.tenant_id = l.id AND fc.enabled AND fc.settings -> 'home_realm_domains' @> jsonb_build_array($1::text)
      ORDER BY fc.name LIMIT 1) c
    ORDER BY l.slug LIMIT $3`,
} as const;

/** At most this many tenants answer one domain (several listed tenants may claim it; each is offered). */
export const MAX_DISCOVERED = 10;

export class TenantPicker {
  readonly #db: Database;
  readonly #config: AtriumConfig;
  constructor(db: Database, config: AtriumConfig) {
    this.#db = db;
    this.#config = config;
  }

  /** Listed tenants after `after` (a slug, exclusive) in slug order; `next` is the cursor of the following page. */
  async page(options: { after: string | undefined; limit: number }): Promise<{ entries: PickerEntry[]; next: string | null }> {
    const rows = await this.#db.crossTenant('tenant picker: list', async (q) =>
      (await q.query<PickerRow>(PICKER_QUERIES.page, [options.after ?? '', platformTenantSlug(this.#config), options.limit + 1])).rows,
    );
    const more = rows.length > options.limit;
    const entries = rows.slice(0, options.limit).map((row) => this.#entry(row, '/account/login'));
    return { entries, next: more ? entries[entries.length - 1]!.slug : null };
  }

  /**
   * The listed tenants whose usable connection (enabled, with enterprise SSO on) claims the
   * domain as a home realm, each with its sign-in link carrying the address as login_hint
   * (the tenant's login page then sends it to that connection).
   */
  async discover(email: string, domain: string): Promise<PickerEntry[]> {
    const rows = await this.#db.crossTenant('tenant picker: home-realm discovery', async (q) =>
      (await q.query<PickerRow>(PICKER_QUERIES.discover, [domain, platformTenantSlug(this.#config), MAX_DISCOVERED])).rows,
    );
    return rows.map((row) => this.#entry(row, `/account/login?${new URLSearchParams({ login_hint: email }).toString()}`));
  }

  #entry(row: PickerRow, signInPath: string): PickerEntry {
    const tenant = { slug: row.slug, primaryDomain: row.primary_domain ?? undefined };
    return {
      slug: row.slug,
      displayName: row.company_name ?? row.name,
      logo: { light: row.logo_light, dark: row.logo_dark },
      issuer: issuerFor(tenant, this.#config),
      signInUrl: issuerUrl(tenant, this.#config, signInPath).href,
      ...(row.connection ? { connection: row.connection } : {}),
    };
  }
}
