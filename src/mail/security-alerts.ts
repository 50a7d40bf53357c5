/**
 * Whether a tenant wants a security alert mailed: `notifications.email.enabled` switches
 * every notification mail off, `notifications.security_alerts.<kind>` one kind. Mails a
 * user asked for (verification, password reset, invitations) are not alerts and always go.
 */
import { mergedSection } from '../tenancy/tenant-config.ts';
import type { Tenant } from '../tenancy/tenant.ts';

export type SecurityAlert = 'new_device' | 'password_changed' | 'mfa_changed';

export function securityAlertWanted(tenant: Tenant, kind: SecurityAlert): boolean {
  const notifications = mergedSection(tenant, 'notifications') as { email?: { enabled?: boolean }; security_alerts?: Partial<Record<SecurityAlert, boolean>> };
  return notifications.email?.enabled !== false && notifications.security_alerts?.[kind] !== false;
}
