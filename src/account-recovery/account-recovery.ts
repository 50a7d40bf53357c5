/**
 * Self-service around passwords and email: open signup with email verification, password
 * reset, and invitations. Every link is a single-use token of the tenant in context
 * (account-token-store.ts) built on the tenant's issuer, never on the request's Host.
 *
 * Enumeration: a reset request and a signup answer the same whether the email is
 * registered or not (signup: see `signup`). The reset's lookup, token and mail happen after the
 * answer (in the background), so the answer takes the same time too.
 */
import type { AtriumConfig } from '../config/env.ts';
import { mergedSection } from '../tenancy/tenant-config.ts';
import { AppError, conflict } from '../core/errors.ts';
import type { LoginLockout } from '../accounts/lockout.ts';
import { hashPassword } from '../accounts/password.ts';
import { passwordViolations } from '../accounts/password-policy.ts';
import type { User, UserStore, UserWithSecret } from '../accounts/user-store.ts';
import { publicUser } from '../accounts/user-store.ts';
import type { MailService } from '../mail/mail-service.ts';
import { sendPasswordChangedMail } from '../mail/password-change-mail.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import { currentContext } from '../core/request-context.ts';
import { issuerUrl, type Tenant } from '../tenancy/tenant.ts';
import { AccountTokenStore, TOKEN_TTL_SECONDS, type AccountToken, type TokenPurpose } from './account-token-store.ts';
import type { UserSessionService } from '../accounts/user-sessions.ts';

export type SignupMode = 'open' | 'invite_only' | 'closed';

export interface SignupPolicy {
  mode: SignupMode;
  allowedEmailDomains: string[];
  requireEmailVerification: boolean;
}

export function signupPolicy(tenant: Pick<Tenant, 'config'>): SignupPolicy {
  const signup = (mergedSection(tenant, 'security').signup ?? {}) as { mode?: SignupMode; allowed_email_domains?: string[]; require_email_verification?: boolean };
  return {
    mode: signup.mode ?? 'invite_only',
    allowedEmailDomains: (signup.allowed_email_domains ?? []).map((d) => d.toLowerCase()),
    requireEmailVerification: signup.require_email_verification !== false,
  };
}

/** Whether an address may sign up under the policy: any domain when none is listed. */
export function emailDomainAllowed(policy: SignupPolicy, email: string): boolean {
  if (policy.allowedEmailDomains.length === 0) return true;
  const domain = email.slice(email.lastIndexOf('@') + 1).toLowerCase();
  return policy.allowedEmailDomains.includes(domain);
}

// No whitespace or control characters (NUL cannot even be stored): the form says so, not an error page.
const EMAIL = /^[^\s@\p{Cc}]{1,64}@[^\s@\p{Cc}]{1,255}$/u;
export const isEmailAddress = (value: string) => value.length <= 320 && EMAIL.test(value) && !/[<>"\\]/.test(value);

/** Who asked, for the audit trail. */
export interface RequestMeta {
  ip: string;
  userAgent: string;
  lang: string;
}

export type SignupOutcome =
  | { kind: 'rejected'; problems: Problem[] }
  | { kind: 'verification_sent' }
  | { kind: 'created'; user: User };

/** A message for a page: a translation key and its placeholders. */
export interface Problem {
  key: string;
  vars?: Record<string, number> | undefined;
}

/** `rejected` names the link's address, for showing its form again. */
export type LinkOutcome = { kind: 'invalid' } | { kind: 'rejected'; problems: Problem[]; email: string } | { kind: 'done'; userId: string; token: AccountToken };

export interface AccountRecoveryDeps {
  config: AtriumConfig;
  users: UserStore;
  tokens: AccountTokenStore;
  mail: MailService;
  lockout: LoginLockout;
  /** Ends a user's sign-ins everywhere after a reset (web/user-sessions.ts). */
  sessions: Pick<UserSessionService, 'revokeAllSessions'>;
  audit: AuditLog;
}

export class AccountRecovery {
  readonly #d: AccountRecoveryDeps;
  constructor(deps: AccountRecoveryDeps) {
    this.#d = deps;
  }

  get tokens(): AccountTokenStore {
    return this.#d.tokens;
  }

  link(tenant: Tenant, path: string, token: string, lang: string): string {
    const url = issuerUrl(tenant, this.#d.config, path);
    url.searchParams.set('token', token);
    url.searchParams.set('lang', lang);
    return url.href;
  }

  // ---- signup ----

  /**
   * An open signup. The answer is the same "check your inbox" for every valid form, so
   * signup cannot be used to test addresses (issue 19):
   * - a registered address creates nothing; its owner is mailed that someone tried, with
   *   links to sign in and to reset the password;
   * - a new address, verification required: nothing is created yet; the name and password
   *   hash wait in the token, and the account exists once the link is used;
   * - a new address, verification off: the account is created at once (unverified) and
   *   mailed a welcome; the person signs in with the password they just chose.
   * Both branches hash the password first, so the answer takes the same time too.
   */
  async signup(tenant: Tenant, input: { email: string; name: string; password: string; interactionUid?: string }, meta: RequestMeta): Promise<SignupOutcome> {
    const policy = signupPolicy(tenant);
    const problems: Problem[] = [];
    if (!isEmailAddress(input.email)) problems.push({ key: 'signup.invalid_email' });
    else if (!emailDomainAllowed(policy, input.email)) problems.push({ key: 'signup.domain_not_allowed' });
    for (const v of passwordViolations(tenant, input.password, input.email)) problems.push({ key: `password.${v.key}`, vars: v.vars });
    if (problems.length) return { kind: 'rejected', problems };

    const passwordHash = await hashPassword(input.password);
    const existing = await this.#d.users.findByEmail(input.email);
    const name = input.name.trim().slice(0, 200) || null;
    const mailOpts = { lang: meta.lang };
    if (existing) {
      if (existing.status === 'active') {
        this.#d.mail.sendLater(tenant, existing.email, 'signup-attempt', { link: issuerUrl(tenant, this.#d.config, '/account').href, resetLink: issuerUrl(tenant, this.#d.config, '/password/forgot').href }, mailOpts);
      }
      await this.#d.audit.record({ action: 'user.signup_requested', outcome: 'failure', actor: null, target: existing.id, ip: meta.ip, userAgent: meta.userAgent, details: { reason: 'email_taken', owner_notified: existing.status === 'active' } });
      return { kind: 'verification_sent' };
    }
    if (!policy.requireEmailVerification) {
      const user = await this.#d.users.create({ email: input.email, passwordHash, name, emailVerified: false });
      this.#d.mail.sendLater(tenant, user.email, 'signup-welcome', { link: issuerUrl(tenant, this.#d.config, '/account').href }, mailOpts);
      await this.#d.audit.record({ action: 'user.signed_up', actor: user.id, target: user.id, ip: meta.ip, userAgent: meta.userAgent, details: { email_verified: false } });
      return { kind: 'created', user: publicUser(user) };
    }
    const { token } = await this.#d.tokens.issue({ purpose: 'signup', email: input.email, data: { name, password_hash: passwordHash, interaction: input.interactionUid ?? null } });
    this.#d.mail.sendLater(tenant, input.email, 'verify-email', { link: this.link(tenant, '/signup/verify', token, meta.lang), hours: TOKEN_TTL_SECONDS.signup / 3600 }, mailOpts);
    await this.#d.audit.record({ action: 'user.signup_requested', actor: null, target: input.email.toLowerCase(), ip: meta.ip, userAgent: meta.userAgent });
    return { kind: 'verification_sent' };
  }

  /** The verification link, used: the account is created, its email verified. */
  async verifySignup(tenant: Tenant, token: unknown, meta: RequestMeta): Promise<{ kind: 'invalid' } | { kind: 'done'; user: User; interactionUid: string | null }> {
    const used = await this.#d.tokens.consume('signup', token);
    if (!used) return { kind: 'invalid' };
    if (await this.#d.users.findByEmail(used.email)) return { kind: 'invalid' }; // registered meanwhile (another link, an invitation)
    const user = await this.#d.users.create({
      email: used.email,
      passwordHash: typeof used.data.password_hash === 'string' ? used.data.password_hash : null,
      name: typeof used.data.name === 'string' ? used.data.name : null,
      emailVerified: true,
    });
    await this.#d.audit.record({ action: 'user.signed_up', actor: user.id, target: user.id, ip: meta.ip, userAgent: meta.userAgent, details: { email_verified: true } });
    return { kind: 'done', user: publicUser(user), interactionUid: typeof used.data.interaction === 'string' ? used.data.interaction : null };
  }

  // ---- password reset ----

  /**
   * A "forgot password" request. Returns at once; the lookup, the token and the mail
   * follow in the background, so neither the answer nor its timing depends on the email.
   */
  requestPasswordReset(tenant: Tenant, email: string, meta: RequestMeta): void {
    const log = currentContext()?.log;
    const work = async () => {
      const user = isEmailAddress(email) ? await this.#d.users.findByEmail(email) : undefined;
      if (!user || user.status !== 'active') {
        await this.#d.audit.record({ action: 'user.password_reset_requested', outcome: 'failure', actor: null, target: email.toLowerCase().slice(0, 320), ip: meta.ip, userAgent: meta.userAgent, details: { reason: user ? 'disabled' : 'unknown_email' } });
        return;
      }
      const { token } = await this.#d.tokens.issue({ purpose: 'password_reset', userId: user.id, email: user.email });
      await this.#d.mail.send(tenant, user.email, 'password-reset', { link: this.link(tenant, '/password/reset', token, meta.lang), minutes: TOKEN_TTL_SECONDS.password_reset / 60 }, { lang: meta.lang });
      await this.#d.audit.record({ action: 'user.password_reset_requested', actor: null, target: user.id, ip: meta.ip, userAgent: meta.userAgent });
    };
    work().catch((err: unknown) => log?.error({ err }, 'password reset request failed'));
  }

  /**
   * Sets a password through a reset or invitation link. The policy is checked before the
   * token is used, so a refused password does not burn the link. A reset also verifies the
   * email (the mailbox answered), lifts a lockout and ends every session of the account.
   */
  async setPasswordByLink(tenant: Tenant, purpose: Extract<TokenPurpose, 'password_reset' | 'invitation'>, token: unknown, password: string, confirmation: string, meta: RequestMeta): Promise<LinkOutcome> {
    const pending = await this.#d.tokens.peek(purpose, token);
    if (!pending?.userId) return { kind: 'invalid' };
    if (password !== confirmation) return { kind: 'rejected', problems: [{ key: 'reset.mismatch' }], email: pending.email };
    const problems = passwordViolations(tenant, password, pending.email);
    if (problems.length) return { kind: 'rejected', problems: problems.map((v) => ({ key: `password.${v.key}`, vars: v.vars })), email: pending.email };
    const passwordHash = await hashPassword(password);
    const used = await this.#d.tokens.consume(purpose, token);
    if (!used?.userId) return { kind: 'invalid' };
    const user = await this.#d.users.update(used.userId, { passwordHash, emailVerified: true });
    if (!user) return { kind: 'invalid' };
    await this.#d.lockout.unlock(user, { actor: user.id, ip: meta.ip, userAgent: meta.userAgent });
    const { signIns: ended } = await this.#d.sessions.revokeAllSessions(user.id, { actor: user.id, ip: meta.ip, userAgent: meta.userAgent });
    const action = purpose === 'password_reset' ? 'user.password_reset' : 'user.invitation_accepted';
    await this.#d.audit.record({ action, actor: user.id, target: user.id, ip: meta.ip, userAgent: meta.userAgent, details: { sessions_ended: ended } });
    if (purpose === 'password_reset') sendPasswordChangedMail(this.#d.mail, tenant, user.email);
    return { kind: 'done', userId: user.id, token: used };
  }

  // ---- invitations ----

  /**
   * An admin invites an address: an account without a password (or the existing one, if it
   * never got a password) and a link to choose one. Refused when the tenant's signup is
   * closed or the address already has a usable account. Inviting again takes the new name
   * and roles, if given: the admin's latest word, as the answer shows.
   */
  async invite(tenant: Tenant, input: { email: string; name?: string | null; roles?: string[] }, actor: string, lang?: string): Promise<{ user: User; expiresAt: Date; mailSent: boolean }> {
    if (signupPolicy(tenant).mode === 'closed') throw new AppError('signup_closed', 409, 'signup is closed for this tenant (security.signup.mode): create the user with a password instead');
    const existing = await this.#d.users.findByEmail(input.email);
    if (existing && existing.passwordHash) throw conflict('a user with this email already exists in this tenant');
    const user = existing ? await this.#reinvited(existing, input) : await this.#d.users.create({ email: input.email, passwordHash: null, name: input.name ?? null, emailVerified: false, roles: input.roles });
    const { token, expiresAt } = await this.#d.tokens.issue({ purpose: 'invitation', userId: user.id, email: user.email });
    const language = lang ?? ((mergedSection(tenant, 'application').default_locale as string | undefined) ?? 'en');
    let mailSent = true;
    try {
      await this.#d.mail.send(tenant, user.email, 'invitation', { link: this.link(tenant, '/invitation', token, language), days: TOKEN_TTL_SECONDS.invitation / 86_400 }, { lang: language });
    } catch (err) {
      mailSent = false;
      currentContext()?.log?.error({ err }, 'could not send invitation mail');
    }
    await this.#d.audit.record({ action: 'user.invited', actor, target: user.id, details: { mail_sent: mailSent } });
    return { user: publicUser(user), expiresAt, mailSent };
  }

  async #reinvited(existing: UserWithSecret, input: { name?: string | null; roles?: string[] }): Promise<UserWithSecret> {
    if (input.name === undefined && input.roles === undefined) return existing;
    // The store refuses (409) new roles that would leave the tenant without an active owner.
    return (await this.#d.users.update(existing.id, { name: input.name, roles: input.roles })) ?? existing;
  }
}
