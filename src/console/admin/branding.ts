/**
 * /admin/branding: the tenant's company name, logos, favicon, fonts and light and dark
 * palettes, one field each. A blank field is no override (the platform default applies);
 * the section is validated and stored like the management API's `PUT .../config/branding`.
 * Beside it, whether the tenant is listed in the platform's public tenant picker.
 */
import type Router from '@koa/router';
import type { Context } from 'koa';
import { maskSection, mergedSection } from '../../tenancy/tenant-config.ts';
import type { Tenant } from '../../tenancy/tenant.ts';
import type { ConsolePrincipal } from '../console-auth.ts';
import { doneNotice, formError, freshTenant, renderAdminPage, requireAdmin, seeOther, type AdminDeps } from './admin-console.ts';
import { defined, obj, overridesOf, saveSection, text } from './config-forms.ts';

const PALETTE_FIELDS = ['primary', 'secondary', 'background', 'text'] as const;
const SCHEMES = ['light', 'dark'] as const;

type Obj = Record<string, unknown>;
const str = (v: unknown) => (typeof v === 'string' ? v : '');

/** The form's field values from a branding section (overrides, or the merged view for placeholders). */
function fieldsOf(section: Obj): Record<string, string> {
  const fields: Record<string, string> = {
    company_name: str(section.company_name),
    logo_light: str(obj(section.logos).light),
    logo_dark: str(obj(section.logos).dark),
    favicon: str(section.favicon),
    font_body: str(obj(section.fonts).body),
    font_heading: str(obj(section.fonts).heading),
  };
  for (const scheme of SCHEMES) for (const f of PALETTE_FIELDS) fields[`${scheme}_${f}`] = str(obj(obj(section.colors)[scheme])[f]);
  return fields;
}

/** The branding section the form describes: only filled-in fields. */
function sectionFrom(form: URLSearchParams): Obj {
  const palette = (scheme: string) => defined(Object.fromEntries(PALETTE_FIELDS.map((f) => [f, text(form, `${scheme}_${f}`)])));
  return defined({
    company_name: text(form, 'company_name'),
    logos: defined({ light: text(form, 'logo_light'), dark: text(form, 'logo_dark') }),
    favicon: text(form, 'favicon'),
    fonts: defined({ body: text(form, 'font_body'), heading: text(form, 'font_heading') }),
    colors: defined({ light: palette('light'), dark: palette('dark') }),
  }) ?? {};
}

export function mountBrandingRoutes(router: Router, deps: AdminDeps): void {
  async function render(ctx: Context, principal: ConsolePrincipal, tenant: Tenant, values?: Record<string, string>, error?: string): Promise<void> {
    await renderAdminPage(ctx, 'branding', principal, 'branding', {
      title: 'admin.branding_title',
      values: values ?? fieldsOf(overridesOf(tenant, 'branding')),
      defaults: fieldsOf(mergedSection({ config: {} }, 'branding')),
      schemes: SCHEMES,
      paletteFields: PALETTE_FIELDS,
      listed: mergedSection(tenant, 'features').tenant_picker === true,
      done: doneNotice(ctx, ['saved', 'listing_saved']),
      error,
    });
  }

  router.get('/branding', async function showBranding(ctx) {
    const principal = requireAdmin(ctx, deps);
    if (!principal) return;
    await render(ctx, principal, await freshTenant(ctx, deps));
  });

  router.post('/branding', async function saveBranding(ctx) {
    const principal = requireAdmin(ctx, deps);
    if (!principal) return;
    const form = await deps.consoleAuth.readForm(ctx, principal);
    const tenant = await freshTenant(ctx, deps);
    try {
      await saveSection(ctx, deps, principal, tenant, 'branding', sectionFrom(form));
    } catch (err) {
      const error = formError(err);
      ctx.status = error.status;
      const typed = Object.fromEntries(Object.keys(fieldsOf({})).map((k) => [k, form.get(k) ?? '']));
      return render(ctx, principal, tenant, typed, error.message);
    }
    seeOther(ctx, '/admin/branding?done=saved');
  });

  // The public listing (`features.tenant_picker`) sits with the brand the picker shows. The
  // rest of the features section is kept, its secrets sent back masked (masked keeps them).
  router.post('/branding/listing', async function saveListing(ctx) {
    const principal = requireAdmin(ctx, deps);
    if (!principal) return;
    const form = await deps.consoleAuth.readForm(ctx, principal);
    const tenant = await freshTenant(ctx, deps);
    const features = { ...maskSection('features', overridesOf(tenant, 'features')), tenant_picker: form.get('tenant_picker') === 'on' };
    try {
      await saveSection(ctx, deps, principal, tenant, 'features', features);
    } catch (err) {
      const error = formError(err);
      ctx.status = error.status;
      return render(ctx, principal, tenant, undefined, error.message);
    }
    seeOther(ctx, '/admin/branding?done=listing_saved');
  });
}
