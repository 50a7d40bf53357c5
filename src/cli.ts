/**
 * Operator commands:
 *   demo                    start with two demo tenants (multi-tenancy on) and print how to sign in
 *   migrate                 apply database migrations and exit
 *   rotate-keys <slug>      rotate a tenant's signing keys
 *   audit-isolation         check tenant isolation on the live deployment; exit 1 on any failure
 *   tenant export <slug> --out <file> [--include-audit]
 *   tenant import <file> [--replace]
 *                           move a tenant between deployments (README, "Moving a tenant")
 */
import { ConfigError, loadConfig } from './config/env.ts';
import { createLogger } from './core/logger.ts';
import { startAtrium } from './server.ts';
import { demoStart } from './commands/demo.ts';
import { createServices } from './services.ts';
import { bootstrap } from './commands/bootstrap.ts';
import { runAs } from './core/request-context.ts';
import { auditIsolation } from './commands/audit-isolation.ts';
import { parseTenantCommand, runTenantCommand, TENANT_USAGE } from './commands/tenant-transfer.ts';

async function run(command: string | undefined, args: string[]): Promise<void> {
  switch (command) {
    case 'demo': {
      const config = loadConfig({ MULTI_TENANCY_ENABLED: 'true', ...process.env, ATRIUM_DEMO: 'true' });
      const log = createLogger(config.logLevel);
      const demo = demoStart(config);
      const atrium = await startAtrium(config, log, { beforeListen: demo.beforeListen });
      demo.print(atrium.port);
      for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => void atrium.stop().then(() => process.exit(0)));
      return;
    }
    case 'migrate': {
      const config = loadConfig();
      const services = await createServices(config, createLogger(config.logLevel));
      await services.close();
      return;
    }
    case 'rotate-keys': {
      const slug = args[0];
      if (!slug) throw new Error('usage: rotate-keys <slug>');
      const config = loadConfig();
      const services = await createServices(config, createLogger(config.logLevel));
      try {
        await bootstrap(services);
        const tenant = await services.tenantStore.findBySlug(slug);
        if (!tenant) throw new Error(`no tenant with slug "${slug}"`);
        // Through the service, as the operator: audited like a rotation from the API or /admin.
        const keys = await runAs({ type: 'system', id: 'system:cli' }, () => services.keyLifecycle.rotateNow(tenant));
        process.stdout.write(`${keys.filter((k) => k.status === 'current').map((k) => `${k.alg} ${k.kid}`).join('\n')}\n`);
      } finally {
        await services.close();
      }
      return;
    }
    case 'audit-isolation': {
      const config = loadConfig();
      const services = await createServices(config, createLogger(config.logLevel));
      try {
        await bootstrap(services);
        const report = await auditIsolation(services, (line) => process.stdout.write(`${line}\n`));
        if (report.status !== 'passed') process.exitCode = 1;
      } finally {
        await services.close();
      }
      return;
    }
    case 'tenant': {
      const command = parseTenantCommand(args);
      const config = loadConfig();
      const services = await createServices(config, createLogger(config.logLevel));
      try {
        await bootstrap(services);
        await runTenantCommand(services, command);
      } finally {
        await services.close();
      }
      return;
    }
    default:
      process.stderr.write(`usage: node src/cli.ts demo | migrate | rotate-keys <slug> | audit-isolation | ${TENANT_USAGE}\n`);
      process.exitCode = 2;
  }
}

run(process.argv[2], process.argv.slice(3)).catch((err: unknown) => {
  process.stderr.write(`atrium: ${err instanceof ConfigError || err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
