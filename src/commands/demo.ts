/**
 * Demo data for a first look: two tenants, each with a demo client and a demo user.
 * Idempotent, and refused in production by the configuration.
 */
import type { AtriumConfig } from '../config/env.ts';
import type { Services } from '../services.ts';
import { runAsTenant } from '../core/request-context.ts';
import { issuerFor, platformTenantSlug, type Tenant } from '../tenancy/tenant.ts';
import { DEFAULT_TENANT } from '../tenancy/slug.ts';
import { DEMO_CLIENT_ID } from '../oidc/demo-client.ts';

export interface DemoTenant {
  slug: string;
  issuer: string;
  clientId: string;
  redirectUri: string;
  email: string;
  password: string;
}

const DEMO = [
  { slug: 'acme', name: 'Acme Corporation', email: 'alice@acme.test', password: 'acme-demo-password' },
  { slug: 'globex', name: 'Globex', email: 'bob@globex.test', password: 'globex-demo-password' },
];
/** The demo's platform admin, for /platform on the bare PUBLIC_URL host. */
export const DEMO_PLATFORM_ADMIN = { email: 'admin@atrium.test', password: 'platform-demo-password' };

export async function seedDemo(services: Services): Promise<DemoTenant[]> {
  const { config, tenantStore, tenants } = services;
  const seeds = config.multiTenancy.enabled ? DEMO : [{ ...DEMO[0]!, slug: DEFAULT_TENANT }];
  const result: DemoTenant[] = [];
  for (const seed of seeds) {
    const tenant: Tenant = (await tenantStore.findBySlug(seed.slug)) ?? (await tenants.create({ slug: seed.slug, name: seed.name, reuseRetiredSlug: true }));
    const issuer = issuerFor(tenant, config);
    const redirectUri = `${issuer}/demo/callback`;
    await runAsTenant(tenant.id, async () => {
      if (!(await services.clients.get(DEMO_CLIENT_ID))) {
        await services.clientService.create(tenant, {
          client_id: DEMO_CLIENT_ID,
          client_name: `${seed.name} demo app`,
          token_endpoint_auth_method: 'none',
          grant_types: ['authorization_code', 'refresh_token'],
          response_types: ['code'],
          redirect_uris: [redirectUri],
          post_logout_redirect_uris: [`${issuer}/demo/signed-out`],
        });
      }
      if (!(await services.users.findByEmail(seed.email))) {
        await services.userService.create(tenant, { email: seed.email, password: seed.password, name: seed.email.split('@')[0], emailVerified: true });
      }
    });
    result.push({ slug: tenant.slug, issuer, clientId: DEMO_CLIENT_ID, redirectUri, email: seed.email, password: seed.password });
  }
  if (config.multiTenancy.enabled) await seedPlatformAdmin(services);
  return result;
}

async function seedPlatformAdmin(services: Services): Promise<void> {
  const platform = await services.tenantStore.findBySlug(platformTenantSlug(services.config));
  if (!platform) return;
  await runAsTenant(platform.id, async () => {
    if (await services.users.findByEmail(DEMO_PLATFORM_ADMIN.email)) return;
    await services.userService.create(platform, { ...DEMO_PLATFORM_ADMIN, name: 'Platform admin', emailVerified: true, roles: ['platform_admin'] });
  });
}

export function printDemo(config: AtriumConfig, port: number, tenants: DemoTenant[]): void {
  const lines = ['', 'Atrium demo is running. Sign in as one of these users:', ''];
  for (const t of tenants) {
    lines.push(`  ${t.slug}`);
    lines.push(`    try it:     ${t.issuer}/demo`);
    lines.push(`    discovery:  ${t.issuer}/.well-known/openid-configuration`);
    lines.push(`    user:       ${t.email} / ${t.password}`);
    lines.push(`    client:     ${t.clientId} (public, PKCE), redirect ${t.redirectUri}`);
    lines.push(`    account:    ${t.issuer}/account    admin (the user is the tenant's owner): ${t.issuer}/admin`);
    lines.push('');
  }
  if (config.multiTenancy.enabled) {
    lines.push('  platform administration', `    ${config.publicUrl.origin}/platform`, `    admin:      ${DEMO_PLATFORM_ADMIN.email} / ${DEMO_PLATFORM_ADMIN.password}`, '');
  }
  lines.push(`  health:       ${config.publicUrl.origin}/healthz (port ${port})`, '');
  process.stdout.write(`${lines.join('\n')}\n`);
}

/**
 * The demo's part in a start: its tenants are seeded before the port opens (startAtrium's
 * `beforeListen`, so /readyz 200 means they exist), and printed once it listens.
 */
export function demoStart(config: AtriumConfig): { beforeListen: (services: Services) => Promise<void>; print: (port: number) => void } {
  let seeded: DemoTenant[] = [];
  return {
    beforeListen: async (services) => {
      seeded = await seedDemo(services);
    },
    print: (port) => printDemo(config, port, seeded),
  };
}
