/**
 * /admin/security: password policy, MFA requirement, signup mode and allowed email
 * domains, lockout. The form shows the values in force; saving replaces those parts of
 * the tenant's `security` overrides and keeps the rest (rate limits, WebAuthn, retention),
 * validated like the management API, so a value beyond a platform floor or ceiling is
 * refused with a message naming the field and the bound.
 */
import type Router from '@koa/router';
import type { Context } from 'koa';
import { MFA_LEVELS } from '../../config/tenant-config-constraints.ts';
import type { Tenant } from '../../tenancy/tenant.ts';
import type { ConsolePrincipal } from '../console-auth.ts';
import { doneNotice, formError, freshTenant, renderAdminPage, requireAdmin, seeOther, type AdminDeps } from './admin-console.ts';
import { defined, integer, obj, overridesOf, saveSection, text } from './config-forms.ts';

const SIGNUP_MODES = ['open', 'invite_only', 'closed'] as const;

type Obj = Record<string, unknown>;
/** A configured string or number as form text. */
const scalar = (v: unknown, fallback = '') => (typeof v === 'string' || typeof v === 'number' ? String(v) : fallback);

/** The form's values from the merged security section. */
function fieldsOf(security: Obj) {
  const policy = obj(security.password_policy);
  const signup = obj(security.signup);
  const lockout = obj(security.lockout);
  return {
    min_length: scalar(policy.min_length),
    require_uppercase: policy.require_uppercase === true,
    require_digit: policy.require_digit === true,
    require_symbol: policy.require_symbol === true,
    mfa_required: scalar(obj(security.mfa).required, 'off'),
    signup_mode: scalar(signup.mode, 'invite_only'),
    allowed_email_domains: (Array.isArray(signup.allowed_email_domains) ? (signup.allowed_email_domains as string[]) : []).join('\n'),
    lockout_max_attempts: scalar(lockout.max_attempts),
    lockout_duration_seconds: scalar(lockout.duration_seconds),
  };
}

/** The tenant's security overrides with the form's parts replaced; parts it does not show are kept. */
function sectionFrom(form: URLSearchParams, current: Obj): Obj {
  const domains = (form.get('allowed_email_domains') ?? '').split(/[\s,]+/).map((d) => d.trim().toLowerCase()).filter(Boolean);
  const mfa = { ...obj(current.mfa), required: text(form, 'mfa_required') };
  return {
    ...current,
    password_policy: {
      ...defined({ min_length: integer(form, 'min_length') }),
      require_uppercase: form.get('require_uppercase') === 'on',
      require_digit: form.get('require_digit') === 'on',
      require_symbol: form.get('require_symbol') === 'on',
    },
    mfa: defined(mfa) ?? {},
    signup: { ...defined({ mode: text(form, 'signup_mode') }), allowed_email_domains: domains },
    lockout: defined({ max_attempts: integer(form, 'lockout_max_attempts'), duration_seconds: integer(form, 'lockout_duration_seconds') }) ?? {},
  };
}

export function mountSecurityRoutes(router: Router, deps: AdminDeps): void {
  async function render(ctx: Context, principal: ConsolePrincipal, tenant: Tenant, values?: ReturnType<typeof fieldsOf>, error?: string): Promise<void> {
    await renderAdminPage(ctx, 'security', principal, 'security', {
      title: 'admin.security_title',
      values: values ?? fieldsOf(ctx.state.runtime.section('security')),
      mfaLevels: MFA_LEVELS,
      signupModes: SIGNUP_MODES,
      done: doneNotice(ctx, ['saved']),
      error,
    });
  }

  router.get('/security', async function showSecurity(ctx) {
    const principal = requireAdmin(ctx, deps);
    if (!principal) return;
    await render(ctx, principal, await freshTenant(ctx, deps));
  });

  router.post('/security', async function saveSecurity(ctx) {
    const principal = requireAdmin(ctx, deps);
    if (!principal) return;
    const form = await deps.consoleAuth.readForm(ctx, principal);
    const tenant = await freshTenant(ctx, deps);
    try {
      await saveSection(ctx, deps, principal, tenant, 'security', sectionFrom(form, overridesOf(tenant, 'security')));
    } catch (err) {
      const error = formError(err);
      ctx.status = error.status;
      const typed = {
        min_length: form.get('min_length') ?? '',
        require_uppercase: form.get('require_uppercase') === 'on',
        require_digit: form.get('require_digit') === 'on',
        require_symbol: form.get('require_symbol') === 'on',
        mfa_required: form.get('mfa_required') ?? '',
        signup_mode: form.get('signup_mode') ?? '',
        allowed_email_domains: form.get('allowed_email_domains') ?? '',
        lockout_max_attempts: form.get('lockout_max_attempts') ?? '',
        lockout_duration_seconds: form.get('lockout_duration_seconds') ?? '',
      };
      return render(ctx, principal, tenant, typed, error.message);
    }
    seeOther(ctx, '/admin/security?done=saved');
  });
}
