/**
 * The event types a webhook can subscribe to, and which audit actions raise them. The audit
 * log already records every state change in the change's own transaction, so webhook events
 * are derived from it (audit/audit-log.ts calls the outbox there) rather than raised by each
 * door again: a new door that audits its change also notifies, with nothing to remember.
 */
import type { AuditEntry } from '../audit/audit-log.ts';

export const TENANT_EVENT_TYPES = ['user.created', 'user.updated', 'user.deleted', 'sign_in.succeeded', 'sign_in.failed', 'session.ended', 'mfa.changed', 'client.changed'] as const;
export const PLATFORM_EVENT_TYPES = ['tenant.created', 'tenant.updated', 'tenant.deleted'] as const;
export type WebhookEventType = (typeof TENANT_EVENT_TYPES)[number] | (typeof PLATFORM_EVENT_TYPES)[number];

const USER_UPDATED = new Set(['user.updated', 'user.roles_changed', 'user.disabled', 'user.enabled', 'user.profile_updated', 'user.password_changed', 'user.password_reset', 'user.unlocked', 'user.phone_verified', 'user.phone_removed']);
const SESSION_ENDED = new Set(['user.sign_out', 'user.session_revoked', 'user.sessions_revoked']);
const CLIENT_CHANGED = new Set(['client.created', 'client.updated', 'client.deleted', 'client.secret_rotated']);

/** The tenant event an audited action raises, if any (failures raise only `sign_in.failed`). */
export function tenantEventFor(entry: Pick<AuditEntry, 'action' | 'outcome'>): WebhookEventType | undefined {
  const { action } = entry;
  const failed = entry.outcome === 'failure';
  if (action === 'user.sign_in' || action === 'federation.sign_in') return failed ? 'sign_in.failed' : 'sign_in.succeeded';
  if (failed) return undefined;
  if (action === 'user.created' || action === 'user.signed_up') return 'user.created';
  if (action === 'user.deleted') return 'user.deleted';
  if (USER_UPDATED.has(action)) return 'user.updated';
  if (SESSION_ENDED.has(action)) return 'session.ended';
  if (action.startsWith('user.mfa.') && action !== 'user.mfa.recovery_code_used') return 'mfa.changed';
  if (CLIENT_CHANGED.has(action)) return 'client.changed';
  return undefined;
}

/**
 * Detail fields that may travel in a payload: identifiers and names, never a secret, a
 * password, a code or a token (audit details hold none today; this list keeps it so if
 * they ever do).
 */
const PAYLOAD_DETAILS = ['email', 'roles', 'fields', 'client_name', 'method', 'reason', 'session', 'from', 'to', 'name', 'slug', 'section', 'client_id'];

/** The `data` of a tenant event: who, what, on what, and the safe details. */
export function eventData(tenantId: string, entry: AuditEntry): Record<string, unknown> {
  const details: Record<string, unknown> = {};
  for (const key of PAYLOAD_DETAILS) if (entry.details && key in entry.details) details[key] = entry.details[key];
  return { tenant_id: tenantId, action: entry.action, subject: entry.target ?? null, actor: entry.actor ?? null, outcome: entry.outcome ?? 'success', ...details };
}

/** Names in `types` that are not event types of this scope. */
export function unknownEventTypes(types: readonly string[], scope: 'tenant' | 'platform'): string[] {
  const known: readonly string[] = scope === 'platform' ? PLATFORM_EVENT_TYPES : TENANT_EVENT_TYPES;
  return types.filter((t) => !known.includes(t));
}
