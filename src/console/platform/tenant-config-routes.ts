/**
 * /platform/tenants/:slug/config: one form per configuration section, generated from the
 * section's schema (console/config-form.ts), and the section's overrides as JSON as the
 * advanced view (secrets shown as the mask, which keeps them when sent back). Either is
 * validated, sealed and stored exactly as the management API does it
 * (config/tenant-config.ts), so the two can never disagree on what is valid.
 */
import type Router from '@koa/router';
import type { Context } from 'koa';
import { maskSection, mergedSection, parseSection, sealSection } from '../../tenancy/tenant-config.ts';
import { CONFIG_SECTIONS, isConfigSection, type ConfigSection } from '../../config/tenant-config-schema.ts';
import { badRequest, notFound } from '../../core/errors.ts';
import { tenantRole, type Tenant } from '../../tenancy/tenant.ts';
import { configFormView, overridesFromForm } from '../config-form.ts';
import { overridesOf } from '../console-forms.ts';
import { formError, renderPlatformPage, requirePlatformAdmin, targetTenant, type PlatformAdmin, type PlatformDeps } from './platform-console.ts';

const json = (value: unknown) => JSON.stringify(value, null, 2);

/** What the page shows for a section: the generated form, its overrides as JSON and the values in force, secrets masked. */
function sectionView(tenant: Tenant, section: ConfigSection, typed?: URLSearchParams) {
  const masked = maskSection(section, overridesOf(tenant, section));
  const effective = maskSection(section, mergedSection(tenant, section));
  return { name: section, groups: configFormView(section, masked, effective, typed), overrides: json(masked), effective: json(effective) };
}

/** The overrides a save sends: the generated form's fields, or the advanced view's JSON. */
function sentOverrides(tenant: Tenant, section: ConfigSection, form: URLSearchParams): unknown {
  const format = form.get('format') ?? 'json';
  if (format === 'form') return overridesFromForm(section, form, overridesOf(tenant, section));
  if (format !== 'json') throw badRequest('format: must be form or json', 'invalid_request');
  return parseOverrides(section, form.get('overrides') ?? '');
}

/** The textarea's JSON; blank means "no overrides". */
function parseOverrides(section: ConfigSection, text: string): unknown {
  if (!text.trim()) return {};
  try {
    return JSON.parse(text);
  } catch {
    throw badRequest(`${section}: not valid JSON`, 'invalid_config');
  }
}

export function mountTenantConfigRoutes(router: Router, deps: PlatformDeps): void {
  async function renderConfig(ctx: Context, admin: PlatformAdmin, tenant: Tenant, failed?: { section: ConfigSection; text: string; typed?: URLSearchParams; error: string }, saved?: string): Promise<void> {
    await renderPlatformPage(ctx, 'tenant-config', admin, (t) => ({
      title: 'platform.config_title',
      heading: t('platform.config_heading', { name: tenant.name }),
      tenant,
      saved: saved && isConfigSection(saved) ? saved : undefined,
      // A section that failed keeps what the admin typed, with the reason next to it.
      sections: CONFIG_SECTIONS.map((section) => {
        if (failed?.section !== section) return sectionView(tenant, section);
        return { ...sectionView(tenant, section, failed.typed), overrides: failed.text, error: failed.error, failedFormat: failed.typed ? 'form' : 'json' };
      }),
    }));
  }

  router.get('/tenants/:slug/config', async function showConfig(ctx) {
    const admin = requirePlatformAdmin(ctx, deps);
    if (!admin) return;
    await renderConfig(ctx, admin, await targetTenant(ctx, deps), undefined, typeof ctx.query.saved === 'string' ? ctx.query.saved : undefined);
  });

  router.post('/tenants/:slug/config/:section', async function saveConfigSection(ctx) {
    const admin = requirePlatformAdmin(ctx, deps);
    if (!admin) return;
    const tenant = await targetTenant(ctx, deps);
    const section = String(ctx.params.section ?? '');
    if (!isConfigSection(section)) throw notFound(`no configuration section "${section.slice(0, 64)}"`);
    const form = await deps.consoleAuth.readForm(ctx, admin);
    const text = form.get('overrides') ?? '';
    try {
      const overrides = sealSection(deps.box, tenant, section, parseSection(section, sentOverrides(tenant, section, form), tenantRole(tenant, deps.config)));
      await deps.tenants.updateConfig(tenant, section, overrides);
    } catch (err) {
      const error = formError(err);
      ctx.status = error.status;
      // Never echo a secret typed in clear back into the page: show the stored overrides instead (the form never shows secrets).
      const echo = /"(password|client_secret|auth_token|private_key)"\s*:\s*"(?!\*{8}")/.test(text) || !text ? sectionView(tenant, section).overrides : text;
      return renderConfig(ctx, admin, tenant, { section, text: echo, typed: form.get('format') === 'form' ? form : undefined, error: error.message });
    }
    ctx.status = 303;
    ctx.redirect(`/platform/tenants/${tenant.slug}/config?saved=${section}#${section}`);
  });
}
