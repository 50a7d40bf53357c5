/**
 * Federation's parts, wired once (see services.ts): the admin service, and the stores and
 * clients the browser flow (interactions/federated-sign-in.ts) works with.
 */
import type { AtriumConfig } from '../config/env.ts';
import type { UserStore } from '../accounts/user-store.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { SecretBox } from '../core/secret-box.ts';
import type { Database } from '../storage/database.ts';
import type { EgressGuard } from '../core/egress-guard.ts';
import { ConnectionStore } from './connection-store.ts';
import { FederatedSessionStore } from './federated-session-store.ts';
import { FederationService } from './federation-service.ts';
import { IdentityStore } from './identity-store.ts';
import { LoginStateStore } from './login-state-store.ts';
import { Provisioning } from './provisioning.ts';
import { PhoneStore } from '../accounts/phone-store.ts';
import { UpstreamClients } from './upstream-client.ts';
import { TenantPicker } from './tenant-picker.ts';

/** What the browser flow needs of federation: connections, upstream clients, pending sign-ins, provisioning. */
export interface FederationFlowParts {
  readonly connections: ConnectionStore;
  readonly clients: UpstreamClients;
  readonly states: LoginStateStore;
  readonly provisioning: Provisioning;
  /** Upstream sign-ins of live sessions: the sign-out's hint, the logout tokens' sid and sub. */
  readonly sessions: FederatedSessionStore;
  /** Upstream accounts linked to users (which connections a user came through). */
  readonly identities: IdentityStore;
}

export interface Federation {
  /** Connections of the tenant in context: list, get, put, delete, test (management API, admin pages). */
  readonly service: FederationService;
  /** For the sign-in pages' flow: begin at the login page, complete at the callback. */
  readonly flow: FederationFlowParts;
  /** The platform host's public tenant picker and its home-realm discovery (`GET /tenants`). */
  readonly picker: TenantPicker;
}

export function createFederation(deps: { config: AtriumConfig; db: Database; box: SecretBox; users: UserStore; audit: AuditLog; egress: EgressGuard }): Federation {
  const connections = new ConnectionStore(deps.db, deps.box);
  const clients = new UpstreamClients(deps.config, deps.egress);
  const identities = new IdentityStore(deps.db);
  return {
    service: new FederationService({ config: deps.config, store: connections, clients, audit: deps.audit }),
    picker: new TenantPicker(deps.db, deps.config),
    flow: { connections, clients, states: new LoginStateStore(deps.db, deps.box), provisioning: new Provisioning(deps.users, identities, deps.audit, new PhoneStore(deps.db)), sessions: new FederatedSessionStore(deps.db, deps.box), identities },
  };
}
