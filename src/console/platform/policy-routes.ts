/**
 * /platform/policy: the operator's policy above the tenants (config/platform-policy.ts), one
 * form per platform section, generated from the same field declaration the API validates
 * with (console/config-form.ts, platformPolicyFields). A change is never saved straight from
 * the form: "Preview" validates it and lists the tenants whose values in force it would move
 * (a value below a raised floor, above a lowered ceiling, or a tenant on a changed default),
 * each with its own stored value and the value now and after; "Confirm" then saves it
 * through PlatformConfig.update, which stores, applies at once, publishes and audits
 * (`platform.config_changed` on the platform, by `platform:<admin user id>`).
 *
 * The confirmation carries the policy version it was previewed under: if another admin saved
 * the section in between, it is refused (409) and the preview is shown again, fresh, so no
 * one confirms a list of tenants that is no longer true.
 */
import type Router from '@koa/router';
import type { Context } from 'koa';
import { isPlatformSection, PLATFORM_SECTIONS, type PlatformSection } from '../../config/platform-policy.ts';
import { badRequest, notFound } from '../../core/errors.ts';
import type { AffectedTenant } from '../../tenancy/platform-config.ts';
import { formGroups, platformPolicyFields, valuesFromForm } from '../config-form.ts';
import { formError, renderPlatformPage, requirePlatformAdmin, type PlatformAdmin, type PlatformDeps } from './platform-console.ts';

/** A refused preview: the section, the reason, and the form as typed. */
interface Failed {
  section: PlatformSection;
  error: string;
  typed: URLSearchParams;
}

/** A value as the preview table shows it; undefined is a tenant without its own value. */
const shown = (v: unknown): string => (typeof v === 'number' || typeof v === 'string' ? String(v) : v === undefined || v === null ? '' : JSON.stringify(v));

function sectionOf(ctx: Context): PlatformSection {
  const section = String(ctx.params.section ?? '');
  if (!isPlatformSection(section)) throw notFound(`no platform configuration section "${section.slice(0, 64)}"`);
  return section;
}

/** The settings a confirmation carries (the previewed form's values, as JSON). */
function confirmedSettings(form: URLSearchParams): unknown {
  try {
    return JSON.parse(form.get('settings') ?? '');
  } catch {
    throw badRequest('settings: not valid JSON', 'invalid_platform_config');
  }
}

export function mountPolicyRoutes(router: Router, deps: PlatformDeps): void {
  async function renderPolicy(ctx: Context, admin: PlatformAdmin, failed?: Failed): Promise<void> {
    await renderPlatformPage(ctx, 'policy', admin, {
      title: 'platform.policy_title',
      sections: PLATFORM_SECTIONS.map((section) => {
        const view = deps.platformConfig.read(section);
        const typed = failed?.section === section ? failed.typed : undefined;
        const groups = formGroups(platformPolicyFields(section), deps.platformConfig.stored(section), view.settings, typed);
        return { name: section, version: view.version, updatedAt: view.updated_at, groups, error: typed ? failed!.error : undefined };
      }),
    });
  }

  async function renderPreview(ctx: Context, admin: PlatformAdmin, section: PlatformSection, settings: unknown, affected: AffectedTenant[], stale = false): Promise<void> {
    await renderPlatformPage(ctx, 'policy-preview', admin, (t) => ({
      title: 'platform.policy_preview_title',
      heading: t('platform.policy_preview_heading', { section }),
      section,
      stale,
      settings: JSON.stringify(settings),
      version: deps.platformConfig.read(section).version,
      rows: affected.flatMap((tenant) => tenant.changes.map((c) => ({ slug: tenant.slug, name: tenant.name, field: c.field, own: shown(c.own), from: shown(c.from), to: shown(c.to) }))),
      tenants: affected.length,
    }));
  }

  router.get('/policy', async function showPolicy(ctx) {
    const admin = requirePlatformAdmin(ctx, deps);
    if (!admin) return;
    await renderPolicy(ctx, admin);
  });

  router.post('/policy/:section/preview', async function previewPolicy(ctx) {
    const admin = requirePlatformAdmin(ctx, deps);
    if (!admin) return;
    const section = sectionOf(ctx);
    const form = await deps.consoleAuth.readForm(ctx, admin);
    const settings = valuesFromForm(platformPolicyFields(section), form, {});
    let affected: AffectedTenant[];
    try {
      ({ affected } = await deps.platformConfig.preview(section, settings));
    } catch (err) {
      const error = formError(err);
      ctx.status = error.status;
      return renderPolicy(ctx, admin, { section, error: error.message, typed: form });
    }
    await renderPreview(ctx, admin, section, settings, affected);
  });

  router.post('/policy/:section', async function confirmPolicy(ctx) {
    const admin = requirePlatformAdmin(ctx, deps);
    if (!admin) return;
    const section = sectionOf(ctx);
    const form = await deps.consoleAuth.readForm(ctx, admin);
    const settings = confirmedSettings(form);
    if (form.get('version') !== String(deps.platformConfig.read(section).version)) {
      // Saved by someone else since the preview: show the tenants as they are now, to confirm again.
      const { affected } = await deps.platformConfig.preview(section, settings);
      ctx.status = 409;
      return renderPreview(ctx, admin, section, settings, affected, true);
    }
    await deps.platformConfig.update(section, settings);
    await deps.consoleAuth.flash.redirect(ctx, admin, { path: '/platform/policy', notice: 'platform.policy_saved' });
  });
}
