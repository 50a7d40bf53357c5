/** The rules for URLs of a tenant's upstream given in a connection (connection-schema.ts). */
import { z } from 'zod';

/** URLs of the upstream: https, or http as well while developing (openid-client refuses http unless told). */
export function upstreamUrl(allowHttp: boolean) {
  return z
    .url({ message: 'must be an absolute URL' })
    .max(2000)
    .refine((v) => {
      const protocol = URL.parse(v)?.protocol;
      return protocol === 'https:' || (allowHttp && protocol === 'http:');
    }, allowHttp ? 'must be an http(s) URL' : 'must be an https URL')
    .refine((v) => !URL.parse(v)?.hash, 'must not have a fragment');
}

const LOOPBACK_HOST = /^(?:localhost|[a-z0-9-]+(?:\.[a-z0-9-]+)*\.localhost|127(?:\.\d{1,3}){3}|\[::1\])$/;

/**
 * The introspection endpoint is sent the upstream token and the client secret at every
 * refresh, so plain http is refused even while developing, except to loopback (a test's or
 * a developer's own upstream). An internal address is left to the egress guard, at use.
 */
export function introspectionUrl(allowHttp: boolean) {
  return z
    .url({ message: 'must be an absolute URL' })
    .max(2000)
    .refine((v) => {
      const url = URL.parse(v);
      return url?.protocol === 'https:' || (allowHttp && url?.protocol === 'http:' && LOOPBACK_HOST.test(url.hostname));
    }, allowHttp ? 'must be an https URL (http only to loopback)' : 'must be an https URL')
    .refine((v) => !URL.parse(v)?.hash, 'must not have a fragment');
}
