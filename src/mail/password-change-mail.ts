/** The "password changed" security alert (`notifications.security_alerts.password_changed`). */
import type { Tenant } from '../tenancy/tenant.ts';
import type { MailService } from './mail-service.ts';
import { securityAlertWanted } from './security-alerts.ts';

/** Mails the account's owner that its password changed; in the background, never failing the change. */
export function sendPasswordChangedMail(mail: MailService, tenant: Tenant, email: string): void {
  mail.textAlert(tenant, email, 'password_changed');
  if (!securityAlertWanted(tenant, 'password_changed')) return;
  mail.sendLater(tenant, email, 'password-changed', { when: new Date().toUTCString() });
}
