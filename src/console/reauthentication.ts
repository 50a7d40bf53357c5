/**
 * Re-authentication before a credential change on /account (NIST 800-63B §6.1.2, ASVS V6):
 * adding or removing a second factor, new recovery codes, a new password. The console
 * cookie lives 8 hours; whoever holds it must still prove, recently, that they are the
 * user, with the strongest factors the user has: the password, plus a second factor
 * (authenticator code, recovery code or passkey) when one is enrolled.
 *
 * "Recently" is the tenant's `security.reauth_max_age_seconds` (default 300): the console
 * session records when and with what (`amr`) its user last authenticated, from the sign-in
 * it came from (the code's auth_time, so a silently reused SSO session does not count) or
 * from a re-authentication here. 0 means: ask on the request itself, every time.
 *
 * When the proof is missing, the action's form is answered with the re-authentication page,
 * which posts back to the same action with the original fields carried as `carry.<name>`
 * (no clash with its own fields), so the user lands on the requested action with its input.
 */
import type { Context } from 'koa';
import { authenticate } from '../accounts/sign-in.ts';
import type { LoginLockout } from '../accounts/lockout.ts';
import type { UserStore, UserWithSecret } from '../accounts/user-store.ts';
import { REAUTH_MAX_AGE_SECONDS } from '../config/tenant-config-constraints.ts';
import { mergedSection } from '../tenancy/tenant-config.ts';
import { AppError } from '../core/errors.ts';
import { MFA_ATTEMPTS } from '../mfa/second-factor.ts';
import { mfaPolicy } from '../mfa/mfa-policy.ts';
import type { MfaService } from '../mfa/mfa-service.ts';
import { parseCredentialResponse, type AuthenticationResponseJSON } from '../mfa/webauthn.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { RateLimiter } from '../security/rate-limiter.ts';
import type { Tenant } from '../tenancy/tenant.ts';
import type { ConsolePrincipal } from './console-auth.ts';
import type { ConsoleSessionStore } from '../accounts/console-session-store.ts';
import { renderTenantPage } from '../web/page.ts';

export interface ReauthDeps {
  users: UserStore;
  mfa: MfaService;
  lockout: Pick<LoginLockout, 'guard'>;
  rateLimiter: RateLimiter;
  sessions: ConsoleSessionStore;
  audit: AuditLog;
}

type Principal = ConsolePrincipal & { userId: string };

/** What the user can prove themselves with here (the tenant's policy applied). */
interface Factors {
  password: boolean;
  totp: boolean;
  recovery: boolean;
  passkeys: Awaited<ReturnType<MfaService['status']>>['passkeys'];
  any: boolean;
}

const SECOND_FACTORS = new Set(['otp', 'hwk']);
const CARRY = 'carry.';

/** The tenant's window in seconds; 0 = ask on the request itself. */
export function reauthMaxAgeSeconds(tenant: Pick<Tenant, 'config'>): number {
  const value = mergedSection(tenant, 'security').reauth_max_age_seconds;
  return typeof value === 'number' && value >= 0 ? Math.min(value, REAUTH_MAX_AGE_SECONDS.max) : REAUTH_MAX_AGE_SECONDS.default;
}

export class Reauthentication {
  readonly #d: ReauthDeps;
  constructor(deps: ReauthDeps) {
    this.#d = deps;
  }

  /**
   * The action's form when the user has authenticated recently enough (or does so in this
   * request); otherwise answers with the re-authentication page and returns undefined.
   */
  async confirm(ctx: Context, principal: Principal, form: URLSearchParams): Promise<URLSearchParams | undefined> {
    const tenant = ctx.state.tenant;
    const user = await this.#d.users.findById(principal.userId);
    if (!user) throw new AppError('login_required', 401, 'Your session has ended. Sign in again.', { messageKey: 'errors.session_ended' });
    const factors = await this.#factors(tenant, user);
    if (form.get('reauth') !== '1') {
      if (this.#recent(tenant, principal, factors.any)) return form;
      await this.#page(ctx, principal, factors, form, '');
      return undefined;
    }
    const carried = new URLSearchParams([...form].filter(([k]) => k.startsWith(CARRY)).map(([k, v]): [string, string] => [k.slice(CARRY.length), v]));
    carried.set('csrf', form.get('csrf') ?? '');
    const amr = await this.#verify(ctx, tenant, principal, user, factors, form);
    const meta = { actor: user.id, target: user.id, ip: ctx.ip, userAgent: ctx.get('user-agent') };
    if (!amr) {
      await this.#d.audit.record({ action: 'console.reauthenticated', outcome: 'failure', ...meta });
      await this.#page(ctx, principal, factors, carried, 'reauth.failed');
      return undefined;
    }
    await this.#d.sessions.markAuthenticated(principal.sessionIdHash, amr);
    await this.#d.audit.record({ action: 'console.reauthenticated', ...meta, details: { amr } });
    return carried;
  }

  async #factors(tenant: Tenant, user: UserWithSecret): Promise<Factors> {
    const policy = mfaPolicy(tenant);
    const status = await this.#d.mfa.status(user.id);
    const totp = policy.totpEnabled && status.totp;
    const passkeys = policy.webauthnEnabled ? status.passkeys : [];
    return { password: Boolean(user.passwordHash), totp, recovery: totp && status.recoveryCodesLeft > 0, passkeys, any: totp || passkeys.length > 0 };
  }

  /** A recent enough authentication of this session, with a second factor when the user has one. */
  #recent(tenant: Tenant, principal: Principal, needsSecondFactor: boolean): boolean {
    const maxAge = reauthMaxAgeSeconds(tenant);
    if (maxAge === 0 || !principal.authenticatedAt) return false;
    if (Date.now() - principal.authenticatedAt.getTime() > maxAge * 1000) return false;
    return !needsSecondFactor || principal.amr.some((m) => SECOND_FACTORS.has(m));
  }

  /** Checks the password (through the lockout) and the second factor; the amr proven, or undefined. */
  async #verify(ctx: Context, tenant: Tenant, principal: Principal, user: UserWithSecret, factors: Factors, form: URLSearchParams): Promise<string[] | undefined> {
    if (!factors.password && !factors.any) return undefined; // nothing to prove it with here: sign in again
    const amr: string[] = [];
    if (factors.password) {
      const password = (form.get('password') ?? '').slice(0, 1024);
      const ok = password ? await authenticate(this.#d.users, user.email, password, this.#d.lockout.guard(tenant)) : undefined;
      if (ok?.id !== user.id) return undefined;
      amr.push('pwd');
    }
    if (!factors.any) return amr;
    const limit = await this.#d.rateLimiter.consume({ tenantId: tenant.id, subject: user.id }, MFA_ATTEMPTS);
    if (!limit.allowed) {
      ctx.set('Retry-After', String(limit.retryAfterSeconds));
      throw new AppError('too_many_attempts', 429, 'Too many attempts. Wait a few minutes and try again.', { messageKey: 'mfa.too_many_attempts' });
    }
    const code = (form.get('code') ?? '').replace(/\s/g, '').slice(0, 16);
    const recovery = (form.get('recovery_code') ?? '').trim().slice(0, 20);
    const response = parseCredentialResponse<AuthenticationResponseJSON>(form.get('response'));
    if (factors.totp && code && (await this.#d.mfa.verifyTotp(tenant, user.id, code))) return [...amr, 'otp'];
    if (factors.recovery && recovery && (await this.#d.mfa.useRecoveryCode(tenant, user.id, recovery))) return [...amr, 'otp'];
    if (factors.passkeys.length && response && (await this.#d.mfa.finishPasskeyAuthentication(tenant, binding(principal), response, user.id))) return [...amr, 'hwk'];
    return undefined;
  }

  async #page(ctx: Context, principal: Principal, factors: Factors, form: URLSearchParams, error: string): Promise<void> {
    const tenant = ctx.state.tenant;
    const carry = [...form].filter(([k]) => k !== 'csrf' && k !== 'reauth').map(([k, v]) => ({ name: `${CARRY}${k}`, value: v }));
    const passkey = factors.passkeys.length
      ? JSON.stringify(await this.#d.mfa.passkeyAuthenticationOptions(tenant, binding(principal), factors.passkeys))
      : '';
    ctx.set('Cache-Control', 'no-store'); // it may carry a new password typed on the previous form
    ctx.status = 401;
    await renderTenantPage(ctx, 'console/account/reauth', (t) => ({
      title: 'reauth.title',
      principal,
      action: ctx.path,
      carry,
      factors,
      passkey,
      error: error ? t(error) : '',
    }));
  }
}

const binding = (principal: ConsolePrincipal) => `reauth:${principal.sessionIdHash}`;
