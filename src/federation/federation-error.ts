/**
 * A federated sign-in that cannot go on. The page tells the person signing in what they can
 * do (`federation.error_<code>` in their language, interactions/federation-error-page.ts); `code` names the reason in the audit
 * trail, and `details` adds facts for it (never secrets or tokens).
 */
import { translator } from '../core/i18n.ts';

export type FederationErrorCode =
  | 'connection_unavailable'
  | 'state_invalid'
  | 'state_expired'
  | 'state_used'
  | 'browser_mismatch'
  | 'redirect_uri_mismatch'
  | 'upstream_error'
  | 'upstream_unreachable'
  | 'token_invalid'
  | 'domain_not_allowed'
  | 'email_missing'
  | 'account_exists'
  | 'account_disabled'
  | 'interaction_expired';

const english = translator('en');

export class FederationError extends Error {
  readonly code: FederationErrorCode;
  readonly status: number;
  /** Placeholders of the user's message (provider name, domain, ...). */
  readonly vars: Record<string, string>;
  readonly details: Record<string, unknown>;
  constructor(code: FederationErrorCode, status: number, vars: Record<string, string> = {}, details: Record<string, unknown> = {}, options: { cause?: unknown } = {}) {
    super(english(`federation.error_${code}`, vars), { cause: options.cause });
    this.name = 'FederationError';
    this.code = code;
    this.status = status;
    this.vars = vars;
    this.details = details;
  }
}
