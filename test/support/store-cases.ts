/**
 * The tenant-scoped stores, each as the store conformance suite (test/store-conformance.test.ts)
 * drives it: what it seeds as tenant A, and every one of its methods as a read, a write
 * (update or delete) or an insert aimed at A's keys, or exempt with the reason. A new store
 * or a new method of one fails the suite until it is listed here.
 */
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import type { Services } from '../../src/services.ts';
import { currentTenantId } from '../../src/core/request-context.ts';
import { UserStore } from '../../src/accounts/user-store.ts';
import { ConsoleSessionStore, hashSessionId } from '../../src/accounts/console-session-store.ts';
import { PhoneStore, phoneCodeHash } from '../../src/accounts/phone-store.ts';
import { HandoffNonceStore } from '../../src/accounts/handoff-nonce-store.ts';
import { LoginLockout } from '../../src/accounts/lockout.ts';
import { AuditLog } from '../../src/audit/audit-log.ts';
import { AuditStore } from '../../src/audit/audit-store.ts';
import { DomainStore } from '../../src/tenancy/domain-store.ts';
import { NewDeviceAlerts } from '../../src/mail/new-device-alert.ts';
import { MfaStore } from '../../src/mfa/mfa-store.ts';
import { createAdapterClass, TenantStorageAdapter } from '../../src/oidc/adapter.ts';
import { ClientStore, generateClientId } from '../../src/oidc/client-store.ts';
import { SigningKeyStore } from '../../src/oidc/signing-keys.ts';
import { GrantStore } from '../../src/oidc/grant-store.ts';
import { SignInReadAhead } from '../../src/oidc/sign-in-read-ahead.ts';
import { RequestWrites } from '../../src/oidc/request-writes.ts';
import { AccountTokenStore } from '../../src/account-recovery/account-token-store.ts';
import { ConnectionStore } from '../../src/federation/connection-store.ts';
import { connectionInputSchema, ITEM3_DEFAULTS } from '../../src/federation/connection-schema.ts';
import { IdentityStore } from '../../src/federation/identity-store.ts';
import { LoginStateStore } from '../../src/federation/login-state-store.ts';
import { WebhookStore } from '../../src/webhooks/webhook-store.ts';
import { FederatedSessionStore } from '../../src/federation/federated-session-store.ts';
import type { Tenant } from '../../src/tenancy/tenant.ts';
import { TenantRoleStore } from '../../src/tenancy/role-store.ts';
import { QuotaStore } from '../../src/tenancy/quota-store.ts';
import { UNLIMITED } from '../../src/tenancy/quotas.ts';

export type Probe = () => Promise<unknown>;

export interface Seeded {
  /** Strings that identify A's rows (ids, emails, hashes): a read as B must return none of them. */
  markers: string[];
  /** As B nothing of A's comes back; as A, A's rows do (so each probe really aims at them). `seen` overrides the marker test for A. */
  reads: Record<string, Probe | { run: Probe; seen: (result: unknown) => boolean }>;
  /** Updates and deletes of A's rows: as B they affect nothing; as A (last) they change A's rows. */
  writes: Record<string, Probe>;
  /** Inserts with A's keys: as B they make B's own row or are refused; A's rows stay as they were. */
  inserts?: Record<string, Probe>;
}

export interface StoreCase {
  /** The module under src/ whose SQL this covers. */
  module: string;
  /** The tables it reads or writes ('tenants' is keyed by id, every other by tenant_id). */
  tables: string[];
  /** The store's class: each method must be probed in `seed` or exempt. */
  type: abstract new (...args: never[]) => object;
  exempt?: Record<string, string>;
  /** Runs as A; `tenant` is A. */
  seed(tenant: Tenant): Promise<Seeded>;
}

const tag = () => `conf${randomBytes(5).toString('hex')}`;
const userIn = (s: Services, email: string) => s.users.create({ email, passwordHash: null });

export function storeCases(s: Services): StoreCase[] {
  const { db, box } = s;
  const links = new AccountTokenStore(db);
  const grants = new GrantStore(db);
  const mfa = new MfaStore(db, links);
  const consoles = new ConsoleSessionStore(db);
  const clients = new ClientStore(db, box);
  const keys = new SigningKeyStore(db, box);
  const domains = new DomainStore(db);
  const connections = new ConnectionStore(db, box);
  const identities = new IdentityStore(db);
  const states = new LoginStateStore(db, box);
  const upstreamSessions = new FederatedSessionStore(db, box);
  const audit = new AuditLog(db);
  const auditStore = new AuditStore(db);
  const lockout = new LoginLockout({ db, audit, box });
  const tenantHere = async () => (await s.tenantStore.findById(currentTenantId()!))!;
  return [
    {
      module: 'src/accounts/user-store.ts', tables: ['users'], type: UserStore,
      exempt: {
        byIdStatement: "builds findById's statement for the token grant's batch (oidc/adapter.ts), no database of its own; run under the tenant context there, probed by the refresh-grant isolation case",
      },
      async seed() {
        const email = `${tag()}@a.test`;
        const user = await userIn(s, email);
        return {
          markers: [user.id, email],
          reads: { findById: () => s.users.findById(user.id), findByEmail: () => s.users.findByEmail(email), list: () => s.users.list({ limit: 500, offset: 0, search: email }), peopleByIds: () => s.users.peopleByIds([user.id]) },
          writes: { update: () => s.users.update(user.id, { name: 'renamed', passwordHash: 'x' }), recordLogin: () => s.users.recordLogin(user.id), writeProfile: () => s.users.writeProfile(user.id, { profile: { given_name: 'Probe', address: { locality: 'Lund' } }, name: 'probed' }), delete: () => s.users.delete(user.id) },
          inserts: { create: () => userIn(s, email) },
        };
      },
    },
    {
      module: 'src/accounts/phone-store.ts', tables: ['users'], type: PhoneStore,
      async seed() {
        const phones = new PhoneStore(s.db);
        const email = `${tag()}@a.test`;
        const user = await userIn(s, email);
        const phone = `+3361234${String(randomBytes(2).readUInt16BE() % 10000).padStart(4, '0')}`;
        await phones.startVerification(user.id, phone, phoneCodeHash(user.id, phone, '123456'), 600, 0);
        assert.equal(await phones.confirm(user.id, '123456'), 'verified');
        await phones.startVerification(user.id, '+33612340000', phoneCodeHash(user.id, '+33612340000', '654321'), 600, 0);
        return {
          markers: [phone],
          reads: { phoneOf: () => phones.phoneOf(user.id), verifiedPhoneOf: () => phones.verifiedPhoneOf(email) },
          writes: {
            startVerification: () => phones.startVerification(user.id, '+33612349999', 'x', 600, 0),
            // 'none': no verification of this user to check, as B sees it.
            confirm: async () => ((await phones.confirm(user.id, '000000')) === 'none' ? undefined : 'checked'),
            takeFromUpstream: () => phones.takeFromUpstream(user.id, '+33612348888'),
            remove: () => phones.remove(user.id),
          },
        };
      },
    },
    {
      module: 'src/accounts/console-session-store.ts', tables: ['console_sessions'], type: ConsoleSessionStore,
      exempt: {
        putFlash: "writes the one-time flash column of a console session by its id under the tenant context, as touch does; probed through touch's case",
        takeFlash: 'reads and clears that column under the tenant context, as find does',
      },
      async seed() {
        const user = await userIn(s, `${tag()}@a.test`);
        const id = tag();
        const idHash = hashSessionId(id);
        const uid = tag();
        const session = { id, userId: user.id, oidcSessionUid: uid, amr: ['pwd'], ip: '192.0.2.1', userAgent: 'conformance', ttlSeconds: 3600 };
        await consoles.create(session);
        return {
          markers: [idHash, user.id],
          reads: { findLive: () => consoles.findLive(id), listForUser: () => consoles.listForUser(user.id) },
          writes: {
            markAuthenticated: () => consoles.markAuthenticated(idHash, ['pwd', 'otp']),
            addFactor: () => consoles.addFactor(idHash, 'hwk'),
            deleteOfUser: () => consoles.deleteOfUser(idHash, user.id),
            deleteMadeFrom: () => db.withTenant((q) => consoles.deleteMadeFrom(q, uid, user.id)),
            deleteForUser: () => consoles.deleteForUser(user.id),
            delete: () => consoles.delete(idHash),
          },
          inserts: { create: () => consoles.create(session) },
        };
      },
    },
    {
      module: 'src/accounts/handoff-nonce-store.ts', tables: ['console_handoff_nonces'], type: HandoffNonceStore,
      async seed() {
        const nonce = tag();
        const nonces = new HandoffNonceStore(db);
        await nonces.claim(nonce, new Date(Date.now() + 60_000));
        return { markers: [nonce], reads: {}, writes: {}, inserts: { claim: () => nonces.claim(nonce, new Date(Date.now() + 120_000)) } };
      },
    },
    {
      module: 'src/accounts/lockout.ts', tables: ['login_lockouts'], type: LoginLockout,
      async seed(tenant) {
        const user = await userIn(s, `${tag()}@a.test`);
        const attempt = { email: user.email, succeeded: false, userId: user.id };
        await lockout.guard(tenant).admit(attempt);
        return {
          markers: [],
          reads: { status: { run: () => lockout.status(user), seen: (r) => (r as { failedAttempts: number }).failedAttempts > 0 } },
          writes: { unlock: () => lockout.unlock(user) },
          inserts: { guard: async () => lockout.guard(await tenantHere()).admit(attempt) },
        };
      },
    },
    {
      module: 'src/audit/audit-log.ts', tables: ['audit_events'], type: AuditLog,
      exempt: { follow: 'wiring: names the follower, no SQL', together: 'opens the tenant transaction that store calls join; the SQL is theirs, probed with them', whenCommitted: 'defers work until the joined transaction commits; no SQL of its own' },
      async seed() {
        const actor = tag();
        await audit.record({ action: 'conformance.probe', actor, target: actor });
        return { markers: [actor], reads: {}, writes: {}, inserts: { record: () => audit.record({ action: 'conformance.probe', actor, target: actor }) } };
      },
    },
    {
      module: 'src/audit/audit-store.ts', tables: ['audit_events'], type: AuditStore,
      async seed() {
        const actor = tag();
        await audit.record({ action: 'conformance.probe', actor, target: actor });
        return { markers: [actor], reads: { list: () => auditStore.list({ limit: 100, actor }) }, writes: {} };
      },
    },
    {
      module: 'src/tenancy/domain-store.ts', tables: ['tenant_domains', 'tenants'], type: DomainStore,
      exempt: { claimDue: 'platform re-check sweep: crossTenant by design', recordCheck: 'platform re-check sweep: crossTenant by design, keyed by tenant id' },
      async seed() {
        const domain = `${tag()}.example.test`;
        await domains.add(domain, false);
        return {
          markers: [domain],
          reads: { list: () => domains.list(), get: () => domains.get(domain) },
          writes: { markVerified: () => domains.markVerified(domain), remove: () => domains.remove(domain) },
          inserts: { add: () => domains.add(domain, true) },
        };
      },
    },
    {
      module: 'src/tenancy/role-store.ts', tables: ['tenant_roles'], type: TenantRoleStore,
      async seed() {
        const roles = new TenantRoleStore(db);
        const name = tag();
        await roles.create(name, `described ${name}`);
        return {
          markers: [name],
          reads: { list: () => roles.list(), get: () => roles.get(name), unknown: { run: async () => (await roles.unknown([name])).length, seen: (n) => n === 0 } },
          writes: { update: () => roles.update(name, 'changed'), delete: () => roles.delete(name) },
          inserts: { create: () => roles.create(name, null) },
        };
      },
    },
    {
      module: 'src/tenancy/quota-store.ts', tables: ['tenant_quotas'], type: QuotaStore,
      exempt: {
        set: 'the platform path: crossTenant by design, keyed by tenant id (the tenant role may not write quotas)',
        usage: 'counts of the tenant in context, no row of anyone: test/roles-quotas.test.ts shows one tenant\'s usage and quotas never touch another\'s',
      },
      async seed(tenant) {
        const quotas = new QuotaStore(db);
        const users = 900_000 + Math.floor(Math.random() * 99_999);
        await quotas.set(tenant.id, { ...UNLIMITED, users });
        return { markers: [String(users)], reads: { get: { run: () => quotas.get(), seen: (q) => (q as { users: number | null }).users === users } }, writes: {} };
      },
    },
    {
      module: 'src/mail/new-device-alert.ts', tables: ['known_devices'], type: NewDeviceAlerts,
      async seed(tenant) {
        const user = await userIn(s, `${tag()}@a.test`);
        const alerts = new NewDeviceAlerts({ db, users: s.users, mail: s.mail });
        const seen = { userId: user.id, ip: '192.0.2.1', userAgent: 'Mozilla/5.0 (X11; Linux x86_64) Firefox/130.0' };
        await alerts.signedIn(tenant, seen);
        return { markers: [user.id], reads: {}, writes: {}, inserts: { signedIn: async () => alerts.signedIn(await tenantHere(), seen) } };
      },
    },
    webhookCase(s),
    ...oidcCases(),
    {
      module: 'src/mfa/mfa-store.ts', tables: ['mfa_totp', 'mfa_recovery_codes', 'webauthn_credentials'], type: MfaStore,
      async seed() {
        const user = await userIn(s, `${tag()}@a.test`);
        const [credentialId, sealed] = [tag(), tag()];
        await mfa.savePendingTotp(user.id, sealed);
        await mfa.confirmTotp(user.id, 1);
        await mfa.replaceRecoveryCodes(user.id, ['code-hash-1', 'code-hash-2']);
        const credential = { credentialId, userId: user.id, publicKey: 'pk', counter: 1, transports: ['usb'], name: 'key', deviceType: null, backedUp: false };
        await mfa.addCredential(credential);
        return {
          markers: [user.id, credentialId, sealed],
          reads: {
            findTotp: () => mfa.findTotp(user.id),
            countUnusedRecoveryCodes: { run: () => mfa.countUnusedRecoveryCodes(user.id), seen: (n) => n === 2 },
            listCredentials: () => mfa.listCredentials(user.id),
            factorsOf: () => mfa.factorsOf(user.id),
            findCredential: () => mfa.findCredential(credentialId),
          },
          writes: {
            useTotpStep: () => mfa.useTotpStep(user.id, 7),
            useRecoveryCode: () => mfa.useRecoveryCode(user.id, 'code-hash-1'),
            recordCredentialUse: () => mfa.recordCredentialUse(credentialId, 9),
            deleteCredential: () => mfa.deleteCredential(user.id, credentialId),
            deleteTotp: () => mfa.deleteTotp(user.id),
            deleteAllFactors: () => mfa.deleteAllFactors(user.id),
          },
          inserts: {
            savePendingTotp: () => mfa.savePendingTotp(user.id, 'other'),
            confirmTotp: () => mfa.confirmTotp(user.id, 2),
            replaceRecoveryCodes: () => mfa.replaceRecoveryCodes(user.id, ['other']),
            addCredential: () => mfa.addCredential(credential),
          },
        };
      },
    },
    {
      module: 'src/account-recovery/account-token-store.ts', tables: ['account_tokens'], type: AccountTokenStore,
      async seed() {
        const user = await userIn(s, `${tag()}@a.test`);
        const { token } = await links.issue({ purpose: 'password_reset', userId: user.id, email: user.email });
        return {
          markers: [user.id, user.email],
          reads: { peek: () => links.peek('password_reset', token) },
          writes: { endOutstandingLinks: () => db.withTenant((q) => links.endOutstandingLinks(q, user.id)), consume: () => links.consume('password_reset', token) },
          inserts: { issue: () => links.issue({ purpose: 'password_reset', userId: user.id, email: user.email }) },
        };
      },
    },
    ...federationCases(),
  ];

  function oidcCases(): StoreCase[] {
    const adapter = (model: string) => new (createAdapterClass(currentTenantId()!, db, (id) => clients.findForProvider(currentTenantId()!, id)))(model);
    return [
      {
        module: 'src/oidc/adapter.ts', tables: ['oidc_payloads'], type: TenantStorageAdapter,
        async seed() {
          const [id, uid, grantId, userCode] = [tag(), tag(), tag(), tag()];
          await adapter('Session').upsert(id, { uid, accountId: id }, 3600);
          await adapter('DeviceCode').upsert(id, { grantId, userCode }, 3600);
          await adapter('AccessToken').upsert(id, { grantId, accountId: id }, 3600);
          return {
            markers: [id, uid, grantId, userCode],
            reads: { find: () => adapter('AccessToken').find(id), findByUid: () => adapter('Session').findByUid(uid), findByUserCode: () => adapter('DeviceCode').findByUserCode(userCode) },
            writes: { consume: () => adapter('AccessToken').consume(id), destroy: () => adapter('Session').destroy(id), revokeByGrantId: () => adapter('AccessToken').revokeByGrantId(grantId) },
            inserts: { upsert: () => adapter('AccessToken').upsert(id, { grantId, accountId: 'other' }, 60) },
          };
        },
      },
      {
        module: 'src/oidc/sign-in-read-ahead.ts', tables: ['oidc_payloads'], type: SignInReadAhead,
        async seed() {
          const [id, uid, grantId] = [tag(), tag(), tag()];
          await adapter('Session').upsert(tag(), { uid, accountId: 'someone' }, 3600);
          await adapter('Grant').upsert(grantId, { jti: grantId, accountId: 'someone' }, 3600);
          await adapter('Interaction').upsert(id, { uid: id, session: { uid, accountId: 'someone' }, grantId }, 3600);
          return {
            markers: [id, uid, grantId],
            // The rows read, not the keys asked for (those name A's ids whatever the answer).
            reads: {
              read: async () => [...(await new SignInReadAhead(db).read(new RequestWrites(false, id), id, { model: 'Interaction', id })).values()],
              byId: () => new SignInReadAhead(db).byId(new RequestWrites(false, id), 'Grant', grantId, async () => undefined),
              byUid: () => new SignInReadAhead(db).byUid(new RequestWrites(false), 'Session', uid, async () => (await adapter('Session').findByUid(uid)) ?? undefined),
            },
            writes: {},
          };
        },
      },
      {
        module: 'src/oidc/grant-store.ts', tables: ['oidc_payloads', 'user_sessions'], type: GrantStore,
        exempt: { onSessionsEnded: 'sets a listener, no database' },
        async seed() {
          const [userId, uid, code] = [randomUUID(), tag(), tag()];
          const seen = { ip: '192.0.2.1', userAgent: 'conformance', amr: ['pwd'] };
          await adapter('Session').upsert(tag(), { uid, accountId: userId, loginTs: Math.floor(Date.now() / 1000) }, 3600);
          await adapter('AuthorizationCode').upsert(code, { accountId: userId, grantId: tag() }, 3600);
          await adapter('RefreshToken').upsert(tag(), { accountId: userId }, 3600);
          await grants.recordUse(uid, userId, seen);
          return {
            markers: [uid],
            reads: { listForUser: () => grants.listForUser(userId) },
            writes: {
              consumeAuthorizationCode: () => grants.consumeAuthorizationCode(code),
              endAllButOne: () => grants.endAllButOne(userId, uid),
              endSession: () => db.withTenant((q) => grants.endSession(q, userId, uid)),
              endAll: () => grants.endAll(userId),
              forgetAccount: () => db.withTenant((q) => grants.forgetAccount(q, userId)),
            },
            inserts: { recordUse: () => grants.recordUse(uid, userId, { ...seen, amr: ['otp'] }) },
          };
        },
      },
      {
        module: 'src/oidc/client-store.ts', tables: ['oidc_clients', 'oidc_payloads', 'tenants'], type: ClientStore,
        async seed(tenant) {
          const clientId = generateClientId();
          const metadata = { client_id: clientId, client_name: tag(), redirect_uris: ['https://rp.example.test/cb'], grant_types: ['authorization_code'], response_types: ['code'] };
          await clients.insert(tenant.id, metadata, 'secret');
          await adapter('AccessToken').upsert(tag(), { clientId, accountId: tag() }, 3600);
          return {
            markers: [clientId],
            reads: { list: () => clients.list({ limit: 500, offset: 0 }), get: () => clients.get(clientId), findForProvider: () => clients.findForProvider(tenant.id, clientId) },
            writes: { update: () => clients.update(tenant.id, { ...metadata, client_name: 'renamed' }, null), delete: () => clients.delete(clientId) },
            inserts: { insert: () => clients.insert(tenant.id, metadata, 'other') },
          };
        },
      },
      {
        module: 'src/oidc/signing-keys.ts', tables: ['signing_keys'], type: SigningKeyStore,
        exempt: { generatePair: 'makes keys in memory, no database' },
        async seed(tenant) {
          const kids = (await keys.list()).map((k) => k.kid);
          return {
            markers: kids,
            reads: { list: () => keys.list(), loadProviderJwks: () => keys.loadProviderJwks(currentTenantId()!) },
            writes: { rotateIfDue: () => keys.rotateIfDue(tenant.id, 0), rotate: () => keys.rotate(tenant.id), removeRetired: () => keys.removeRetired(0) },
            inserts: { insertCurrentPair: async () => db.withTenant(async (q) => keys.insertCurrentPair(q, tenant.id, await keys.generatePair())) },
          };
        },
      },
    ];
  }

  function federationCases(): StoreCase[] {
    const settings = connectionInputSchema({ allowHttp: false }).parse({ provider: 'generic_oidc', issuer: 'https://idp.example.test', client_id: 'atrium' });
    const { client_secret: _secret, ...rest } = settings;
    const stored = { ...rest, display_name: 'IdP', preset: {}, issuer: rest.issuer ?? null, discovery_endpoint: null, endpoints: null, token_endpoint_auth_method: 'client_secret_basic' as const, claims_mapping: { email: 'email', email_verified: 'email_verified', name: 'name' }, ...ITEM3_DEFAULTS };
    return [
      {
        module: 'src/federation/connection-store.ts', tables: ['federation_connections'], type: ConnectionStore,
        async seed(tenant) {
          const name = tag();
          await connections.put(tenant.id, name, stored, { kind: 'set', value: 'upstream-secret' });
          return {
            markers: [name],
            reads: { list: () => connections.list(), get: () => connections.get(name), secret: { run: () => connections.secret(tenant.id, name), seen: (v) => v === 'upstream-secret' } },
            writes: { delete: () => connections.delete(name) },
            inserts: { put: () => connections.put(tenant.id, name, { ...stored, display_name: 'renamed' }, { kind: 'remove' }) },
          };
        },
      },
      {
        module: 'src/federation/identity-store.ts', tables: ['federated_identities'], type: IdentityStore,
        async seed() {
          const user = await userIn(s, `${tag()}@a.test`);
          const identity = { issuer: 'https://idp.example.test', subject: tag(), connectionName: `idp-${tag()}`, userId: user.id, email: user.email };
          await identities.link(identity);
          return { markers: [identity.subject, identity.connectionName], reads: { connectionsOf: () => identities.connectionsOf(user.id) }, writes: { touch: () => identities.touch(identity.issuer, identity.subject) }, inserts: { link: () => identities.link(identity) } };
        },
      },
      {
        module: 'src/federation/login-state-store.ts', tables: ['federation_login_states'], type: LoginStateStore,
        async seed(tenant) {
          const pending = { stateId: tag(), connectionName: 'idp', interactionUid: tag(), nonce: 'n', codeVerifier: 'v', redirectUri: 'https://a.test/cb', browserHash: 'b', expiresAt: new Date(Date.now() + 600_000) };
          await states.save(tenant.id, pending);
          return { markers: [pending.stateId], reads: {}, writes: { take: () => states.take(tenant.id, pending.stateId) }, inserts: { save: () => states.save(tenant.id, pending) } };
        },
      },
      {
        module: 'src/federation/federated-session-store.ts', tables: ['federated_sessions', 'federation_logout_tokens'], type: FederatedSessionStore,
        async seed(tenant) {
          const user = await userIn(s, `${tag()}@a.test`);
          const signIn = { interactionUid: tag(), userId: user.id, connectionName: 'idp', upstreamIssuer: 'https://idp.example.test', upstreamSub: tag(), upstreamSid: tag(), idToken: 'header.payload.signature', upstreamToken: { kind: 'access_token' as const, value: tag() } };
          const sessionUid = tag();
          const jti = tag();
          await upstreamSessions.record(tenant.id, signIn, 3600);
          await upstreamSessions.bind(signIn.interactionUid, sessionUid, user.id);
          await upstreamSessions.firstUse('idp', jti, new Date(Date.now() + 600_000));
          return {
            markers: [signIn.interactionUid, signIn.upstreamSub, sessionUid],
            reads: { named: () => upstreamSessions.named('idp', { sid: signIn.upstreamSid }), ofSession: () => upstreamSessions.ofSession(tenant.id, sessionUid) },
            writes: { take: () => upstreamSessions.take(tenant.id, sessionUid), forget: () => upstreamSessions.forget([sessionUid]), bind: () => upstreamSessions.bind(signIn.interactionUid, tag(), user.id) },
            inserts: { record: () => upstreamSessions.record(tenant.id, signIn, 3600), firstUse: () => upstreamSessions.firstUse('idp', jti, new Date(Date.now() + 600_000)) },
          };
        },
      },
    ];
  }
}

/** Subscriptions and the outbox; the seed fails one delivery (as the worker would) so a replay has something to aim at. */
function webhookCase(s: Services): StoreCase {
  const { db, box } = s;
  const store = new WebhookStore(db, box);
  return {
    module: 'src/webhooks/webhook-store.ts', tables: ['webhook_subscriptions', 'webhook_outbox'], type: WebhookStore,
    exempt: { enqueuePlatform: "the platform tenant's subscriptions, crossTenant by design (tenant lifecycle events)", openSecret: 'opens a sealed value in memory, no database' },
    async seed() {
      const url = `https://${tag()}.example.test/hook`;
      const sub = await store.create({ url, eventTypes: ['user.created'], description: null, secret: 'whsec_' + randomBytes(32).toString('base64') });
      await db.withTenant((q) => store.enqueue(q, 'user.created', { probe: url }));
      const [delivery] = await store.deliveries({ subscriptionId: sub.id });
      await db.crossTenant('store conformance: fail a delivery', (q) => q.query(`UPDATE webhook_outbox SET status = 'failed' WHERE id = $1`, [delivery!.id]));
      return {
        markers: [sub.id, delivery!.id],
        reads: { list: () => store.list(), get: () => store.get(sub.id), deliveries: () => store.deliveries({}) },
        writes: { replay: () => store.replay(delivery!.id), update: () => store.update(sub.id, { description: 'changed' }), delete: () => store.delete(sub.id) },
        inserts: { create: () => store.create({ url, eventTypes: ['user.created'], description: null, secret: 'whsec_x' }), enqueue: () => db.withTenant((q) => store.enqueue(q, 'user.created', { probe: url })) },
      };
    },
  };
}
