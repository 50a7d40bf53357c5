/**
 * A tenant's discovery document and JWKS, produced without building its Provider.
 *
 * Why: relying parties fetch these two far more often than anything else. Answering them
 * from the tenant's Provider meant building one for every tenant that was not pooled, and
 * spread over 10,000 tenants that was most requests: a build is the Configuration merge,
 * router and model classes of oidc-provider, ~1 ms of CPU and ~50 KiB of heap, only to
 * print JSON that depends on nothing a build adds. What each document depends on:
 *
 *   JWKS       the tenant's signing keys alone: oidc-provider publishes, per key, the public
 *              members listed in its initialize_keystore.js, in key order. `jwks()` writes
 *              the same members from the same TenantSigningKey objects the Provider gets.
 *   discovery  the Provider's processed configuration (features, scopes, claims, grant
 *              types, the algorithms its keys add) and the issuer, from which every URL in
 *              it derives (issuer-origin.ts). Rather than re-implementing oidc-provider's
 *              discovery.js and its configuration processing (which would drift with an
 *              upgrade), the document is oidc-provider's own answer, learnt from the first
 *              tenant's Provider with the same *configuration shape*, with the issuer
 *              replaced. The shape is the tenant's Provider configuration as JSON, minus
 *              what is per tenant and cannot reach discovery (cookies: names and keys; the
 *              adapter; functions, which JSON drops), with the keys reduced to their
 *              algorithms (which do reach it). Tenants with default settings share one shape,
 *              so one Provider build serves all of them; a tenant whose settings change a
 *              document gets a shape, and a learnt document, of its own.
 *
 * test/provider-documents.test.ts compares, for several tenant configurations, what is
 * served here with what the tenant's own Provider serves, byte for byte.
 */
import type { Configuration } from 'oidc-provider';
import { LRUCache } from 'lru-cache';
import type { Tenant } from '../tenancy/tenant.ts';
import { runAsTenant } from '../core/request-context.ts';
import { issuerFor } from '../tenancy/tenant.ts';
import type { TenantSigningKey } from './tenant-signing-key.ts';
import { providerConfiguration, type ProviderDeps } from './provider-configuration.ts';

export type ProviderDocumentName = 'discovery' | 'jwks';

export interface DocumentBody {
  body: Buffer;
  contentType: string;
}

/** What oidc-provider's renderJWKS sends (lib/actions/jwks.js). */
const JWKS_CONTENT_TYPE = 'application/jwk-set+json; charset=utf-8';

/** Discovery as oidc-provider answered it for one tenant of a shape, with that tenant's issuer. */
interface Learnt {
  issuer: string;
  body: string;
  contentType: string;
}

/**
 * The JWKS oidc-provider publishes for these keys: initialize_keystore.js maps every
 * registered key to exactly these members, in this order (undefined ones vanish in JSON).
 */
export function jwksDocument(keys: readonly TenantSigningKey[]): string {
  return JSON.stringify({
    keys: keys.map((key) => ({
      kty: key.kty,
      use: key.use,
      key_ops: key.key_ops ? [...key.key_ops] : undefined,
      kid: key.kid,
      alg: key.alg,
      crv: key.crv,
      e: key.e,
      n: key.n,
      x: key.x,
      // x5c: a TenantSigningKey has no certificate chain.
      y: key.y,
      pub: key.pub,
    })),
  });
}

/** The configuration as JSON without what is per tenant and cannot reach discovery; the keys as their algorithms. */
export function configurationShape(configuration: Configuration): string {
  const { cookies: _cookies, adapter: _adapter, jwks, ...rest } = configuration;
  const algorithms = [...new Set((jwks?.keys ?? []).map((key) => `${String(key.alg)}:${String(key.use)}`))];
  return JSON.stringify({ ...rest, jwks: algorithms });
}

/** Every string of `value` equal to `from` or under it (`from/...`) moved to `to`. */
function reissued(value: unknown, from: string, to: string): unknown {
  if (typeof value === 'string') return value === from || value.startsWith(`${from}/`) ? `${to}${value.slice(from.length)}` : value;
  if (Array.isArray(value)) return value.map((v) => reissued(v, from, to));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, reissued(v, from, to)]));
  return value;
}

export class ProviderDocuments {
  readonly #deps: ProviderDeps;
  /** Learnt discovery documents by shape; a handful in practice (tenants mostly keep the defaults). */
  readonly #learnt = new LRUCache<string, Learnt>({ max: 1_000 });
  /** The shape of each tenant record (its keys at that version included), worked out once. */
  readonly #shapes = new WeakMap<Tenant, Promise<string>>();

  constructor(deps: ProviderDeps) {
    this.#deps = deps;
  }

  /** The document for this tenant record, or undefined when discovery of its shape was never learnt. */
  async derive(tenant: Tenant, name: ProviderDocumentName): Promise<DocumentBody | undefined> {
    if (name === 'jwks') {
      const { keys } = await runAsTenant(tenant.id, () => this.#deps.materials.signingKeys(tenant));
      return { body: Buffer.from(jwksDocument(keys)), contentType: JWKS_CONTENT_TYPE };
    }
    const learnt = this.#learnt.get(await this.shapeOf(tenant));
    if (!learnt) return undefined;
    const issuer = issuerFor(tenant, this.#deps.config);
    const body = learnt.issuer === issuer ? learnt.body : JSON.stringify(reissued(JSON.parse(learnt.body), learnt.issuer, issuer));
    return { body: Buffer.from(body), contentType: learnt.contentType };
  }

  /** Keeps discovery as the tenant's own Provider answered it, for every tenant of the same shape. */
  async learn(tenant: Tenant, body: Buffer, contentType: string): Promise<void> {
    const shape = await this.shapeOf(tenant);
    const issuer = issuerFor(tenant, this.#deps.config);
    // A setting that spells out this tenant's own host (say op_policy_uri on its issuer) is
    // in the shape: another tenant sharing it must not see that URL moved to its own host.
    if (shape.includes(new URL(issuer).host)) return;
    this.#learnt.set(shape, { issuer, body: body.toString('utf8'), contentType });
  }

  /** The tenant record's configuration shape (its keys at that version included), worked out once. */
  shapeOf(tenant: Tenant): Promise<string> {
    let shape = this.#shapes.get(tenant);
    if (!shape) {
      // The keys are read under the tenant's row-level security, whoever asks.
      shape = runAsTenant(tenant.id, () => this.#deps.materials.signingKeys(tenant)).then(({ keys }) => {
        const issuer = issuerFor(tenant, this.#deps.config);
        return configurationShape(providerConfiguration(tenant, issuer, { keys }, this.#deps));
      });
      this.#shapes.set(tenant, shape);
      shape.catch(() => this.#shapes.get(tenant) === shape && this.#shapes.delete(tenant));
    }
    return shape;
  }
}
