/** Federation's parts, wired once (see services.ts): the admin service and the sign-in flow. */
import type { AtriumConfig } from '../config/env.ts';
import type { UserStore } from '../accounts/user-store.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { SecretBox } from '../core/secret-box.ts';
import type { Database } from '../storage/database.ts';
import type { EgressGuard } from '../core/egress-guard.ts';
import { ConnectionStore } from './connection-store.ts';
import { FederatedSignIn, type FederatedSignInDeps } from '../interactions/federated-sign-in.ts';
import { FederationService } from './federation-service.ts';
import { IdentityStore } from './identity-store.ts';
import { LoginStateStore } from './login-state-store.ts';
import { Provisioning } from './provisioning.ts';
import { UpstreamClients } from './upstream-client.ts';

export interface Federation {
  /** Connections of the tenant in context: list, get, put, delete, test (management API, admin pages). */
  readonly service: FederationService;
  /** The browser flow: begin at the login page, complete at the callback. */
  readonly signIn: FederatedSignIn;
}

export function createFederation(deps: { config: AtriumConfig; db: Database; box: SecretBox; users: UserStore; audit: AuditLog; egress: EgressGuard; secondFactorDue?: FederatedSignInDeps['secondFactorDue'] }): Federation {
  const connections = new ConnectionStore(deps.db, deps.box);
  const clients = new UpstreamClients(deps.config, deps.egress);
  const provisioning = new Provisioning(deps.users, new IdentityStore(deps.db), deps.audit);
  return {
    service: new FederationService({ config: deps.config, store: connections, clients, audit: deps.audit }),
    signIn: new FederatedSignIn({ config: deps.config, box: deps.box, connections, clients, states: new LoginStateStore(deps.db, deps.box), provisioning, audit: deps.audit, secondFactorDue: deps.secondFactorDue }),
  };
}
