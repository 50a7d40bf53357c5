/**
 * What other domains do inside the transaction of a write to a user (accounts owns only
 * `users`; the rows below belong to the domains above it, which implement these interfaces
 * and are wired in services.ts):
 *   - every change of a user's credentials ends the account's outstanding mail links
 *     (password reset, invitation, a signup verification for its address): a link requested
 *     before the owner changed their password, reset it, was disabled or had their second
 *     factors reset must not be usable afterwards (issue 19). The user store and the MFA
 *     store call it from each write that changes a credential, so no route can forget it;
 *   - deleting a user deletes what the Provider stored for them.
 */
import type { Queryable } from '../storage/database.ts';

/** account-recovery's mail links (`account_tokens`). */
export interface OutstandingLinks {
  /** Ends the user's unused mail links (by user, and by the address the row has *now*: call it before an email change). */
  endOutstandingLinks(q: Queryable, userId: string): Promise<number>;
}

/** oidc's rows for an account (`oidc_payloads`: sessions, grants, tokens). */
export interface AccountGrants {
  forgetAccount(q: Queryable, userId: string): Promise<void>;
}
