/**
 * A tenant's look: company name, logos, favicon and a stylesheet of CSS custom properties
 * built from its `branding` section. The stylesheet is served from the tenant's own host
 * (`/branding.css?v=<version>`) because the CSP allows no inline style; every value that
 * reaches CSS is a validated hex colour or a font name reduced to safe characters.
 */
import type { Brand } from '../core/views.ts';
import { mergedSection } from './tenant-config.ts';
import type { Tenant } from './tenant.ts';

export type { Brand } from '../core/views.ts';

interface Palette { primary?: string; secondary?: string; background?: string; text?: string }
interface BrandingSection {
  company_name?: string;
  logos?: { light?: string; dark?: string };
  favicon?: string;
  fonts?: { body?: string; heading?: string };
  colors?: { light?: Palette; dark?: Palette };
}

const HEX = /^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$/;

export function brandFor(tenant: Tenant | undefined): Brand {
  if (!tenant) return { name: 'Atrium', title: 'Atrium', stylesheet: '', links: {} };
  const branding = tenant.config.branding as BrandingSection | undefined;
  const application = tenant.config.application as { title?: string; description?: string } | undefined;
  const integrations = mergedSection(tenant, 'integrations') as { website_url?: string; privacy_policy_url?: string; terms_url?: string };
  // The company name and title override the tenant's name only when the tenant set them.
  const name = branding?.company_name ?? tenant.name;
  return {
    name,
    title: application?.title ?? name,
    description: application?.description,
    links: { website: integrations.website_url, privacy: integrations.privacy_policy_url, terms: integrations.terms_url },
    logoLight: branding?.logos?.light ?? branding?.logos?.dark,
    logoDark: branding?.logos?.dark ?? branding?.logos?.light,
    favicon: branding?.favicon,
    stylesheet: `/branding.css?v=${tenant.version}`,
  };
}

/** A font family as CSS: quoted, letters, digits, spaces and hyphens only, then a system fallback. */
function fontStack(name: string | undefined): string | undefined {
  const safe = name?.replace(/[^A-Za-z0-9 -]/g, '').trim();
  return safe ? `"${safe}", system-ui, -apple-system, "Segoe UI", Roboto, sans-serif` : undefined;
}

function paletteVars(p: Palette | undefined): string {
  const vars: [string, string | undefined][] = [['--primary', p?.primary], ['--secondary', p?.secondary], ['--bg', p?.background], ['--fg', p?.text]];
  return vars.filter(([, v]) => v && HEX.test(v)).map(([k, v]) => `${k}: ${v};`).join(' ');
}

export function brandingCss(tenant: Tenant): string {
  const branding = mergedSection(tenant, 'branding') as BrandingSection;
  const lines: string[] = [];
  const light = paletteVars(branding.colors?.light);
  if (light) lines.push(`:root { ${light} }`);
  const dark = paletteVars(branding.colors?.dark);
  if (dark) lines.push(`@media (prefers-color-scheme: dark) { :root { ${dark} } }`);
  const body = fontStack(branding.fonts?.body);
  if (body) lines.push(`body { font-family: ${body}; }`);
  const heading = fontStack(branding.fonts?.heading);
  if (heading) lines.push(`h1, h2, h3, .brand { font-family: ${heading}; }`);
  return `${lines.join('\n')}\n`;
}
