/**
 * Second factors in a tenant bundle (runtime/tenant-transfer.ts): TOTP secrets (opened from
 * the source's seal, sealed again under the target's) and passkeys (public keys, as they are).
 * Recovery codes do not travel: they are HMACs under a key derived from the source's master
 * key, which no target has, so they could never match again.
 */
import type { Queryable } from '../storage/driver.ts';
import type { SecretBox } from '../core/secret-box.ts';
import { selectJsonRows, insertJsonRows } from '../storage/json-rows.ts';
import { openColumn, rowsOf, sealColumn, str, type Row, type TableRows } from '../core/transfer-rows.ts';
import { totpContext } from './mfa-service.ts';

const context = (row: Row) => totpContext(str(row, 'tenant_id'), str(row, 'user_id'));

export const mfaTransfer = {
  tables: ['mfa_totp', 'webauthn_credentials'],
  async export(q: Queryable, tenantId: string, box: SecretBox): Promise<TableRows> {
    const totp = await selectJsonRows(q, `SELECT coalesce(jsonb_agg(to_jsonb(t) ORDER BY t.user_id), '[]'::jsonb) AS rows FROM mfa_totp t WHERE t.tenant_id = $1`, [tenantId]);
    return {
      mfa_totp: openColumn(totp, 'secret_sealed', box, context),
      webauthn_credentials: await selectJsonRows(q, `SELECT coalesce(jsonb_agg(to_jsonb(t) ORDER BY t.credential_id), '[]'::jsonb) AS rows FROM webauthn_credentials t WHERE t.tenant_id = $1`, [tenantId]),
    };
  },
  async import(q: Queryable, tables: TableRows, box: SecretBox): Promise<void> {
    await insertJsonRows(q, 'INSERT INTO mfa_totp SELECT * FROM jsonb_populate_recordset(NULL::mfa_totp, $1::jsonb)', sealColumn(rowsOf(tables, 'mfa_totp'), 'secret_sealed', box, context));
    await insertJsonRows(q, 'INSERT INTO webauthn_credentials SELECT * FROM jsonb_populate_recordset(NULL::webauthn_credentials, $1::jsonb)', rowsOf(tables, 'webauthn_credentials'));
  },
} as const;
