/** Formatting helpers of the report that are not about rounds (pairs.ts formats those). */
import type { AtriumMemory } from './pairs.ts';

/** Describes an access token from a token response body: JWT with its header, or opaque. */
export function tokenFormat(responseBody: string): string {
  let token: unknown;
  try {
    token = (JSON.parse(responseBody) as { access_token?: unknown }).access_token;
  } catch {
    return `unreadable response: ${responseBody.slice(0, 120)}`;
  }
  if (typeof token !== 'string') return `no access_token: ${responseBody.slice(0, 120)}`;
  const parts = token.split('.');
  if (parts.length === 3) {
    try {
      const header = JSON.parse(Buffer.from(parts[0]!, 'base64url').toString()) as { alg?: string; typ?: string };
      return `JWT, ${header.alg} signed, typ ${header.typ} (${token.length} chars; not stored)`;
    } catch {
      /* not a JWT after all */
    }
  }
  return `opaque reference (${token.length} chars; stored by the adapter)`;
}

/** `1024 MB (V8 heap 632 MB in use of 718 MB, 149 MB outside it; 410 MB of the heap live after a forced full GC)`: what of the RSS is V8's heap, and how much of that is live; the rest is native memory, code and allocator slack. */
export function formatMemory(m: AtriumMemory): string {
  const live = m.liveHeapMb === undefined ? '' : `; ${m.liveHeapMb} MB of the heap live after a forced full GC`;
  return `${m.rssMb} MB (V8 heap ${m.heapUsedMb} MB in use of ${m.heapTotalMb} MB, ${m.externalMb} MB outside it${live})`;
}
