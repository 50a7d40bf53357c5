/**
 * Second factors of the users of the tenant in context: TOTP with recovery codes, and
 * WebAuthn credentials (security keys, passkeys). Every change is audited and announced
 * to the user ("MFA changed" mail, through `MfaChangeNotifier`).
 */
import QRCode from 'qrcode';
import type { AtriumConfig } from '../config/env.ts';
import { conflict, notFound } from '../core/errors.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { SecretBox } from '../core/secret-box.ts';
import type { Tenant } from '../tenancy/tenant.ts';
import { issuerFor } from '../tenancy/tenant.ts';
import { currentContext, currentTenantId } from '../core/request-context.ts';
import type { UserStore } from '../accounts/user-store.ts';
import { mfaPolicy } from './mfa-policy.ts';
import type { MfaStore, WebAuthnCredential } from './mfa-store.ts';
import { generateRecoveryCodes, hashRecoveryCode } from './recovery-codes.ts';
import { generateTotpSecret, matchTotp, otpauthUri } from './totp.ts';
import {
  authenticationOptions,
  challengeValid,
  newChallenge,
  registrationOptions,
  relyingPartyFor,
  standInCredential,
  verifyAuthentication,
  verifyRegistration,
  type AuthenticationResponseJSON,
  type RegistrationResponseJSON,
  type RelyingParty,
} from './webauthn.ts';

export type MfaChange = 'totp_enrolled' | 'totp_removed' | 'recovery_codes_regenerated' | 'passkey_registered' | 'passkey_removed' | 'mfa_reset';

/** Who made a change and from where, for the audit log. Defaults to the user themself. */
export interface ChangeMeta {
  actor?: string | null;
  ip?: string | null;
  userAgent?: string | null;
}

/**
 * Where an MFA change is announced to the user: the "MFA changed" mail (src/mail/mfa-change-mail.ts,
 * wired in services.ts). The mail words each change as `mail.mfa_changed.<change>`.
 */
export type MfaChangeNotifier = (change: { tenantId: string; userId: string; email: string; change: string }) => Promise<void>;

export interface MfaStatus {
  totp: boolean;
  recoveryCodesLeft: number;
  passkeys: WebAuthnCredential[];
  /** Any second factor the user can sign in with. */
  enrolled: boolean;
}

export interface MfaServiceDeps {
  config: AtriumConfig;
  store: MfaStore;
  box: SecretBox;
  users: UserStore;
  audit: AuditLog;
  notify?: MfaChangeNotifier | undefined;
}

export const totpContext = (tenantId: string, userId: string) => `mfa-totp:${tenantId}:${userId}`;

export class MfaService {
  readonly #deps: MfaServiceDeps;

  constructor(deps: MfaServiceDeps) {
    this.#deps = deps;
  }

  #recoveryKey(tenantId: string): Buffer {
    return this.#deps.box.deriveKeys('mfa-recovery-codes', tenantId)[0]!;
  }

  #challengeKeys(tenantId: string): Buffer[] {
    return this.#deps.box.deriveKeys('webauthn-challenge', tenantId);
  }

  relyingParty(tenant: Tenant): RelyingParty {
    return relyingPartyFor(issuerFor(tenant, this.#deps.config), tenant.name);
  }

  /**
   * A change of the user's factors and its audit event in one transaction of the tenant in
   * context (`AuditLog.together`), so its webhook outbox rows commit or roll back with the
   * change; `work` answers undefined when nothing changed (nothing audited, no mail). The
   * "MFA changed" mail goes once the change has committed.
   */
  async #change<T>(tenant: Pick<Tenant, 'id'>, userId: string, change: MfaChange, meta: ChangeMeta, work: () => Promise<T | undefined>, details: (done: T) => Record<string, unknown> = () => ({})): Promise<T | undefined> {
    const done = await this.#deps.audit.together(async () => {
      const result = await work();
      if (result !== undefined) {
        await this.#deps.audit.record({ action: `user.mfa.${change}`, actor: meta.actor === undefined ? userId : meta.actor, target: userId, ip: meta.ip ?? null, userAgent: meta.userAgent ?? null, details: details(result) });
      }
      return result;
    });
    if (done !== undefined) await this.#deps.audit.whenCommitted(() => this.#announce(tenant, userId, change));
    return done;
  }

  async #announce(tenant: Pick<Tenant, 'id'>, userId: string, change: MfaChange): Promise<void> {
    const notify = this.#deps.notify;
    if (!notify) return;
    const user = await this.#deps.users.findById(userId);
    if (!user) return;
    try {
      await notify({ tenantId: tenant.id, userId, email: user.email, change });
    } catch (err) {
      // A mail that cannot be sent never undoes the change; it is logged.
      currentContext()?.log?.warn({ err, change }, 'could not announce an MFA change');
    }
  }

  async status(userId: string): Promise<MfaStatus> {
    const { totp, recoveryCodesLeft, passkeys } = await this.#deps.store.factorsOf(userId);
    const confirmed = Boolean(totp?.confirmedAt);
    return { totp: confirmed, recoveryCodesLeft, passkeys, enrolled: confirmed || passkeys.length > 0 };
  }

  // ---- TOTP ----

  /** Starts an enrolment: a new secret (sealed, not usable until confirmed) and its QR code. */
  async startTotpEnrolment(tenant: Tenant, user: { id: string; email: string }): Promise<{ secret: string; uri: string; qrSvg: string }> {
    const secret = generateTotpSecret();
    if (!(await this.#deps.store.savePendingTotp(user.id, this.#deps.box.seal(secret, totpContext(tenant.id, user.id))))) {
      throw conflict('an authenticator app is already set up: remove it first');
    }
    return this.#pending(tenant, user, secret);
  }

  /** The pending enrolment's secret and QR code again (a re-rendered form after a wrong code). */
  async pendingTotp(tenant: Tenant, user: { id: string; email: string }): Promise<{ secret: string; uri: string; qrSvg: string } | undefined> {
    const record = await this.#deps.store.findTotp(user.id);
    if (!record || record.confirmedAt) return undefined;
    return this.#pending(tenant, user, this.#deps.box.open(record.secretSealed, totpContext(tenant.id, user.id)));
  }

  async #pending(tenant: Tenant, user: { email: string }, secret: string) {
    const uri = otpauthUri(secret, tenant.name, user.email);
    const qrSvg = await QRCode.toString(uri, { type: 'svg', margin: 1, errorCorrectionLevel: 'M' });
    return { secret, uri, qrSvg };
  }

  /**
   * Confirms the enrolment with a first code from the app. Returns fresh recovery codes
   * (shown once) when the user had none, [] when they already have some, undefined for a
   * wrong code.
   */
  async confirmTotpEnrolment(tenant: Tenant, userId: string, code: string, meta: ChangeMeta = {}): Promise<string[] | undefined> {
    const record = await this.#deps.store.findTotp(userId);
    if (!record || record.confirmedAt) return undefined;
    const step = matchTotp(this.#deps.box.open(record.secretSealed, totpContext(tenant.id, userId)), code);
    if (step === undefined) return undefined;
    // Confirmed and audited in one transaction; the first recovery codes after it, as their own change.
    const confirmed = await this.#change(tenant, userId, 'totp_enrolled', meta, async () => ((await this.#deps.store.confirmTotp(userId, step)) ? true : undefined));
    if (!confirmed) return undefined;
    if ((await this.#deps.store.countUnusedRecoveryCodes(userId)) > 0) return [];
    return this.#newRecoveryCodes(tenant, userId);
  }

  /** Checks a code of the user's confirmed authenticator; each time step is accepted once. */
  async verifyTotp(tenant: Tenant, userId: string, code: string): Promise<boolean> {
    if (!mfaPolicy(tenant).totpEnabled) return false;
    const record = await this.#deps.store.findTotp(userId);
    if (!record?.confirmedAt) return false;
    let secret: string;
    try {
      secret = this.#deps.box.open(record.secretSealed, totpContext(tenant.id, userId));
    } catch {
      return false; // sealed for another tenant or user: never valid here
    }
    const step = matchTotp(secret, code, { lastStep: record.lastStep });
    return step !== undefined && (await this.#deps.store.useTotpStep(userId, step));
  }

  async removeTotp(tenant: Tenant, userId: string, meta: ChangeMeta = {}): Promise<void> {
    await this.#change(tenant, userId, 'totp_removed', meta, async () => {
      if (!(await this.#deps.store.deleteTotp(userId))) throw notFound('no authenticator app is set up');
      return true;
    });
  }

  // ---- Recovery codes ----

  async #newRecoveryCodes(tenant: Pick<Tenant, 'id'>, userId: string): Promise<string[]> {
    const codes = generateRecoveryCodes();
    const key = this.#recoveryKey(tenant.id);
    await this.#deps.store.replaceRecoveryCodes(userId, codes.map((c) => hashRecoveryCode(key, tenant.id, userId, c)));
    return codes;
  }

  /** Replaces every recovery code with ten new ones, returned once. */
  async regenerateRecoveryCodes(tenant: Tenant, userId: string, meta: ChangeMeta = {}): Promise<string[]> {
    return (await this.#change(tenant, userId, 'recovery_codes_regenerated', meta, () => this.#newRecoveryCodes(tenant, userId)))!;
  }

  /** Spends a recovery code: true once per code. */
  async useRecoveryCode(tenant: Tenant, userId: string, code: string): Promise<boolean> {
    const used = await this.#deps.store.useRecoveryCode(userId, hashRecoveryCode(this.#recoveryKey(tenant.id), tenant.id, userId, code));
    if (used) {
      await this.#deps.audit.record({ action: 'user.mfa.recovery_code_used', actor: userId, target: userId, details: { left: await this.#deps.store.countUnusedRecoveryCodes(userId) } });
    }
    return used;
  }

  // ---- WebAuthn ----

  /** Options to register a passkey; `existing` is the user's credentials when the caller has them already (`status().passkeys`). */
  async passkeyRegistrationOptions(tenant: Tenant, user: { id: string; email: string; name: string | null }, binding: string, existing?: readonly WebAuthnCredential[]) {
    const policy = mfaPolicy(tenant);
    if (!policy.webauthnEnabled) throw notFound('passkeys are not enabled for this organisation');
    existing ??= await this.#deps.store.listCredentials(user.id);
    return registrationOptions(this.relyingParty(tenant), user, existing, newChallenge(this.#challengeKeys(tenant.id)[0]!, binding), policy.userVerification);
  }

  /** Verifies and stores a new credential; false when the response does not verify. */
  async finishPasskeyRegistration(tenant: Tenant, userId: string, binding: string, response: RegistrationResponseJSON | null, name: string, meta: ChangeMeta = {}): Promise<boolean> {
    const policy = mfaPolicy(tenant);
    if (!policy.webauthnEnabled) throw notFound('passkeys are not enabled for this organisation');
    if (!response) return false;
    let info: Awaited<ReturnType<typeof verifyRegistration>>;
    try {
      info = await verifyRegistration(this.relyingParty(tenant), response, (c) => challengeValid(this.#challengeKeys(tenant.id), binding, c), policy.userVerification);
    } catch {
      return false; // malformed or for another origin / challenge: the library throws for both
    }
    if (!info) return false;
    const credential = {
      credentialId: info.credential.id,
      userId,
      publicKey: Buffer.from(info.credential.publicKey).toString('base64url'),
      counter: info.credential.counter,
      transports: (info.credential.transports ?? []).map(String),
      name: name.trim().slice(0, 64) || 'Passkey',
      deviceType: info.credentialDeviceType,
      backedUp: info.credentialBackedUp,
    };
    const added = await this.#change(tenant, userId, 'passkey_registered', meta, async () => ((await this.#deps.store.addCredential(credential)) ? true : undefined), () => ({ credential_id: credential.credentialId }));
    return added === true;
  }

  /** Options for an assertion: the user's credentials (second factor, from `status().passkeys`) or none (passwordless). */
  async passkeyAuthenticationOptions(tenant: Tenant, binding: string, allow?: readonly WebAuthnCredential[]) {
    const policy = mfaPolicy(tenant);
    if (!policy.webauthnEnabled) throw notFound('passkeys are not enabled for this organisation');
    return authenticationOptions(this.relyingParty(tenant), allow, newChallenge(this.#challengeKeys(tenant.id)[0]!, binding), policy.userVerification);
  }

  /**
   * Verifies an assertion; the user it belongs to and whether the authenticator verified the
   * user (PIN, biometrics), or undefined. With `expectedUserId`, only that user's credentials count.
   */
  async finishPasskeyAuthentication(tenant: Tenant, binding: string, response: AuthenticationResponseJSON | null, expectedUserId?: string): Promise<{ userId: string; userVerified: boolean } | undefined> {
    const policy = mfaPolicy(tenant);
    if (!policy.webauthnEnabled || typeof response?.id !== 'string') return undefined;
    const found = await this.#deps.store.findCredential(response.id);
    const credential = found && (!expectedUserId || found.userId === expectedUserId) ? found : undefined;
    let info: Awaited<ReturnType<typeof verifyAuthentication>>;
    try {
      // An unknown passkey (or another user's) is checked against a stand-in key, failing as a bad assertion does.
      info = await verifyAuthentication(this.relyingParty(tenant), response, credential ?? standInCredential(response.id), (c) => challengeValid(this.#challengeKeys(tenant.id), binding, c), policy.userVerification === 'required');
    } catch {
      return undefined;
    }
    if (!info || !credential) return undefined;
    await this.#deps.store.recordCredentialUse(credential.credentialId, info.newCounter);
    return { userId: credential.userId, userVerified: info.userVerified };
  }

  async removePasskey(tenant: Tenant, userId: string, credentialId: string, meta: ChangeMeta = {}): Promise<void> {
    await this.#change(tenant, userId, 'passkey_removed', meta, async () => {
      if (!(await this.#deps.store.deleteCredential(userId, credentialId))) throw notFound('no such passkey');
      return true;
    }, () => ({ credential_id: credentialId }));
  }

  /**
   * Removes every second factor of a user of the tenant in context (an admin's "reset MFA"
   * for a user who lost their device). They enrol again at their next sign-in if the
   * policy requires it.
   */
  async resetForUser(userId: string, meta: ChangeMeta = {}): Promise<void> {
    const tenantId = currentTenantId();
    if (!tenantId) throw new Error('resetForUser needs a tenant in the request context');
    await this.#change({ id: tenantId }, userId, 'mfa_reset', { actor: null, ...meta }, () => this.#deps.store.deleteAllFactors(userId), (removed) => ({ passkeys_removed: removed.passkeys, totp_removed: removed.totp }));
  }
}
