/**
 * The tenant record (name, status, configuration with branding, sealed config secrets),
 * its domains and its custom roles in a tenant bundle (runtime/tenant-transfer.ts), and the import's decisions
 * about the target: a slug already there is refused unless replaced, a tenant id already
 * there under another slug is always refused (its sealed values and tokens are bound to it).
 */
import type { Queryable } from '../storage/driver.ts';
import type { SecretBox } from '../core/secret-box.ts';
import { conflict } from '../core/errors.ts';
import { selectJsonRows, insertJsonRows } from '../storage/json-rows.ts';
import { rowsOf, str, type Row, type TableRows } from '../core/transfer-rows.ts';
import { TransferBundleError } from '../core/transfer-seal.ts';
import { mapConfigSecrets } from './tenant-config.ts';
import { DEFAULT_TENANT, PLATFORM_TENANT } from './slug.ts';

type Obj = Record<string, unknown>;
const configOf = (row: Row): Obj => (row.config && typeof row.config === 'object' ? (row.config as Obj) : {});

export const tenantTransfer = {
  tables: ['tenants', 'tenant_domains', 'tenant_roles'],
  async export(q: Queryable, tenantId: string, box: SecretBox): Promise<TableRows> {
    const tenants = await selectJsonRows(q, `SELECT coalesce(jsonb_agg(to_jsonb(t)), '[]'::jsonb) AS rows FROM tenants t WHERE t.id = $1`, [tenantId]);
    return {
      tenants: tenants.map((row) => ({ ...row, config: mapConfigSecrets(configOf(row), tenantId, (sealed, context) => box.open(sealed, context)) })),
      tenant_domains: await selectJsonRows(q, `SELECT coalesce(jsonb_agg(to_jsonb(t) ORDER BY t.domain), '[]'::jsonb) AS rows FROM tenant_domains t WHERE t.tenant_id = $1`, [tenantId]),
      // Custom roles travel with the users who hold them (the roles themselves are names on users).
      tenant_roles: await selectJsonRows(q, `SELECT coalesce(jsonb_agg(to_jsonb(t) ORDER BY t.name), '[]'::jsonb) AS rows FROM tenant_roles t WHERE t.tenant_id = $1`, [tenantId]),
    };
  },

  /**
   * Makes room for the bundle's tenant (or refuses) and inserts it with its domains. The
   * version continues past the replaced tenant's, so no instance keeps a Provider built
   * from the old record, whose id may be the same.
   */
  async import(q: Queryable, tables: TableRows, box: SecretBox, options: { replace: boolean }): Promise<{ replaced: boolean }> {
    const [row] = rowsOf(tables, 'tenants');
    if (!row) throw new TransferBundleError('invalid_bundle', 'the bundle holds no tenant');
    const id = str(row, 'id');
    const slug = str(row, 'slug');
    if (slug === PLATFORM_TENANT || slug === DEFAULT_TENANT) throw conflict(`"${slug}" is a reserved tenant of every deployment: it cannot be imported`);
    const existing = await q.query<{ id: string; slug: string; version: number }>('SELECT id, slug, version FROM tenants WHERE slug = $1 OR id = $2', [slug, id]);
    const sameId = existing.rows.find((t) => t.id === id && t.slug !== slug);
    if (sameId) throw conflict(`this tenant (id ${id}) already exists here as "${sameId.slug}"`);
    const sameSlug = existing.rows.find((t) => t.slug === slug);
    if (sameSlug && !options.replace) throw conflict(`a tenant "${slug}" already exists here: import with replace to overwrite it`);
    const retired = await q.query('SELECT 1 FROM retired_slugs WHERE slug = $1', [slug]);
    if (retired.rows.length > 0 && !options.replace) throw conflict(`the slug "${slug}" belonged to a deleted tenant here: import with replace to reuse it`);
    if (sameSlug) await q.query('DELETE FROM tenants WHERE id = $1', [sameSlug.id]);
    const version = Math.max(Number(row.version) || 1, sameSlug?.version ?? 0) + 1;
    const config = mapConfigSecrets(configOf(row), id, (plain, context) => box.seal(plain, context));
    await insertJsonRows(q, 'INSERT INTO tenants SELECT * FROM jsonb_populate_recordset(NULL::tenants, $1::jsonb)', [{ ...row, config, version, updated_at: new Date().toISOString() }]);
    await insertJsonRows(q, 'INSERT INTO tenant_domains SELECT * FROM jsonb_populate_recordset(NULL::tenant_domains, $1::jsonb)', rowsOf(tables, 'tenant_domains'));
    await insertJsonRows(q, 'INSERT INTO tenant_roles SELECT * FROM jsonb_populate_recordset(NULL::tenant_roles, $1::jsonb)', rowsOf(tables, 'tenant_roles'));
    return { replaced: Boolean(sameSlug) };
  },
} as const;
