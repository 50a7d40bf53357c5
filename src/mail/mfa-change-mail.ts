/** The "MFA changed" mail, as the MFA service's notifier (`MfaChangeNotifier`). */
import type { Tenant } from '../tenancy/tenant.ts';
import type { MailService } from './mail-service.ts';
import { securityAlertWanted } from './security-alerts.ts';

export function mfaChangeMail(mail: MailService, tenants: { byId(id: string): Promise<Tenant | undefined> }) {
  return async function sendMfaChangedMail(change: { tenantId: string; email: string; change: string }): Promise<void> {
    const tenant = await tenants.byId(change.tenantId);
    if (!tenant) return;
    mail.textAlert(tenant, change.email, 'mfa_changed');
    if (!securityAlertWanted(tenant, 'mfa_changed')) return;
    // `change` names a string of locales/*/mail.json (`mfa_changed.<change>`). Sent in the
    // background: an enrolment in the middle of a sign-in must not wait on an SMTP server.
    mail.sendLater(tenant, change.email, 'mfa-changed', { change: change.change, when: new Date().toUTCString() });
  };
}
