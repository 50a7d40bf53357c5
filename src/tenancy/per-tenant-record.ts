/**
 * What is derived from a tenant record (merged config sections, MFA policy, token lifetimes,
 * rate-limit rules) is computed once per record, not once per request.
 *
 * A record is immutable: a change of config, keys or status is a new record with a higher
 * version (tenant-store.ts), so a value derived from one record object stays right for as
 * long as that object lives. Keyed by the object itself (a WeakMap), the cache needs no
 * invalidation and goes when the registry drops the record.
 */
export function perTenantRecord<R extends object, T>(derive: (record: R) => T): (record: R) => T {
  const derived = new WeakMap<R, T>();
  return (record) => {
    if (derived.has(record)) return derived.get(record) as T;
    const value = derive(record);
    derived.set(record, value);
    return value;
  };
}

/** Freezes a derived value all the way down: callers share it, so none may change it. */
export function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
