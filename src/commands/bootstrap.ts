/**
 * Start-up provisioning, idempotent: the reserved tenants, the bootstrap platform API client
 * and the bootstrap platform admin. While bootstrap credentials are set in the environment
 * a warning is logged at every start: they are meant to be removed once used.
 */
import type { Services } from '../services.ts';
import { PLATFORM_SCOPES } from '../oidc/api-resource.ts';
import { platformTenantSlug } from '../tenancy/tenant.ts';
import { runAs, runAsTenant, type Actor } from '../core/request-context.ts';
import { hashPassword } from '../accounts/password.ts';
import { AppError } from '../core/errors.ts';

/** What start-up provisioning changes is audited in the platform tenant, by `system:bootstrap`. */
const BOOTSTRAP: Actor = { type: 'system', id: 'system:bootstrap' };

export function bootstrap(services: Services): Promise<void> {
  return runAs(BOOTSTRAP, () => provision(services));
}

async function provision(services: Services): Promise<void> {
  const { config, log, tenants, tenantStore, audit } = services;
  await tenants.ensureReservedTenants();
  const platform = await tenantStore.findBySlug(platformTenantSlug(config));
  if (!platform) throw new Error('the platform tenant is missing after start-up provisioning');

  const { clientId, clientSecret, adminEmail, adminPassword } = config.bootstrap;
  if (clientId && clientSecret) {
    log.warn({ client_id: clientId }, 'ATRIUM_BOOTSTRAP_CLIENT_ID/_SECRET are set: remove them once you have created your own platform API clients');
    await runAsTenant(platform.id, async () => {
      const metadata = {
        client_id: clientId,
        client_name: 'Atrium bootstrap API client',
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: 'client_secret_basic',
        scope: PLATFORM_SCOPES.join(' '),
      };
      // Instances starting together may both find it missing: the loser of the insert updates.
      const inserted = (await services.clients.get(clientId)) ? false : await services.clients.insert(platform.id, metadata, clientSecret).then(() => true, ignoreConflict);
      if (!inserted) await services.clients.update(platform.id, metadata, clientSecret);
      if (inserted) await audit.record({ action: 'client.created', target: clientId, details: { client_name: metadata.client_name, source: 'ATRIUM_BOOTSTRAP_CLIENT_ID' } });
    });
    await tenants.touched(platform, { clientId });
  }

  if (adminEmail && adminPassword) {
    log.warn({ email: adminEmail }, 'ATRIUM_BOOTSTRAP_ADMIN_EMAIL/_PASSWORD are set: remove them once the first platform admin has signed in');
    await runAsTenant(platform.id, async () => {
      if (await services.users.findByEmail(adminEmail)) return;
      const created = await services.users
        .create({ email: adminEmail, passwordHash: await hashPassword(adminPassword), emailVerified: true, roles: ['owner', 'platform_admin'] })
        .then(() => true, ignoreConflict);
      if (!created) return;
      log.info({ email: adminEmail }, 'bootstrap platform admin created');
      const admin = await services.users.findByEmail(adminEmail);
      await audit.record({ action: 'user.created', target: admin?.id ?? null, details: { email: adminEmail, roles: ['owner', 'platform_admin'], source: 'ATRIUM_BOOTSTRAP_ADMIN_EMAIL' } });
    });
  }
}

/** A unique violation means another instance created the same row first: not an error here. */
function ignoreConflict(err: unknown): false {
  if (err instanceof AppError && err.status === 409) return false;
  throw err;
}
