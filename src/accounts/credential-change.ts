/**
 * What every change of a user's credentials does, inside the change's own transaction:
 * every outstanding link mailed for the account (password reset, invitation, a signup
 * verification for its address) stops working. A link requested before the owner changed
 * their password, reset it, was disabled or had their second factors reset must not be
 * usable afterwards (issue 19). The user store and the MFA store call this from each write
 * that changes a credential, so no route can forget it.
 */
import type { Queryable } from '../storage/database.ts';

/** Ends the user's unused mail links (by user, and by the address the row has *now*: call it before an email change). */
export async function endOutstandingLinks(q: Queryable, userId: string): Promise<number> {
  const res = await q.query(
    `DELETE FROM account_tokens WHERE used_at IS NULL
       AND (user_id = $1::uuid OR lower(email) = (SELECT lower(email) FROM users WHERE id = $1::uuid))`,
    [userId],
  );
  return res.rowCount;
}
