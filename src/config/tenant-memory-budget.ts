/**
 * How much per-tenant state one process keeps, from one figure: MULTI_TENANCY_TENANT_MEMORY_MB.
 *
 * Why a memory budget rather than counts: the caches that keep a busy tenant cheap (its
 * Provider, its signing keys, client records and published documents) were bounded by
 * small counts picked one by one (a pool of 50 Providers, a 16 MB document cache), and
 * spread over more tenants than the smallest of them, every request paid a rebuild there.
 * What an operator knows is how much memory the process may use; the counts follow from
 * the measured cost of one resident tenant, in resident memory (RSS), not heap after a
 * forced GC (46-55 KiB per pooled Provider, bench S1): the collector's headroom is real
 * memory too. Bench F3/F4 at 10,000 tenants, two runs: RSS 677-733 MB with every tenant's
 * record, keys, clients and documents cached, 1,574-1,747 MB once 10,000 Providers were
 * pooled as well, i.e. ~92-101 KiB per Provider and ~33-38 KiB per tenant for the rest,
 * over a ~350 MB process:
 *
 *   Provider (pooled)                             104 KiB
 *   discovery + JWKS documents                      8 KiB  (~1.8 KB + ~1.4 KB, key overhead)
 *   record, imported keys, clients, metrics        32 KiB
 *   -------------------------------------------------------
 *   one resident tenant                            144 KiB
 *
 * The default, 1536 MB, keeps 10,922 tenants resident: 10,000 busy tenants with some room,
 * at an RSS of 1.55 GB with V8's old space capped at the same 1536 MB (the image's
 * NODE_OPTIONS; 808 MB of it live heap), 2.2 GB uncapped (garbage V8 had not collected).
 * Tenants beyond it still work; the least recently used ones are rebuilt when they come back.
 */
export interface TenantMemoryBudget {
  readonly memoryMb: number;
  /** Tenants kept whole in memory: the Provider pool's capacity and the key cache's. */
  readonly tenants: number;
  /** What the discovery/JWKS document cache may hold, in bytes. */
  readonly documentBytes: number;
  /** Client records kept (a few per tenant). */
  readonly clientRecords: number;
}

export const BYTES_PER_RESIDENT_TENANT = 144 * 1024;
const DOCUMENT_BYTES_PER_TENANT = 8 * 1024;
const CLIENTS_PER_TENANT = 4;

export function tenantMemoryBudget(memoryMb: number): TenantMemoryBudget {
  const tenants = Math.max(1, Math.floor((memoryMb * 1024 * 1024) / BYTES_PER_RESIDENT_TENANT));
  return Object.freeze({ memoryMb, tenants, documentBytes: tenants * DOCUMENT_BYTES_PER_TENANT, clientRecords: tenants * CLIENTS_PER_TENANT });
}
