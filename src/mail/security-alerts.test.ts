import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Tenant } from '../tenancy/tenant.ts';
import { securityAlertWanted } from './security-alerts.ts';

const tenant = (config: Record<string, unknown>) => ({ config }) as unknown as Tenant;

test('security alerts are on by default, off per kind, and all off with notification mail', () => {
  assert.equal(securityAlertWanted(tenant({}), 'mfa_changed'), true);
  assert.equal(securityAlertWanted(tenant({ notifications: { security_alerts: { mfa_changed: false } } }), 'mfa_changed'), false);
  assert.equal(securityAlertWanted(tenant({ notifications: { security_alerts: { mfa_changed: false } } }), 'new_device'), true);
  assert.equal(securityAlertWanted(tenant({ notifications: { email: { enabled: false } } }), 'new_device'), false);
});
