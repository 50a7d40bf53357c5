/**
 * Who an audit event's actor and target are, for the consoles' audit views: a tenant
 * user's id is shown as their name and email, and `platform:<id>` (a platform admin acting
 * in the tenant) as that admin's name and email from the platform tenant. One query per
 * tenant for a whole page of events, never one per event.
 */
import type { AuditEvent } from '../audit/audit-store.ts';

export interface AuditPerson {
  email: string;
  name: string | null;
  /** A platform administrator acting in the tenant. */
  platform: boolean;
}

type PeopleByIds = (ids: string[]) => Promise<Map<string, { email: string; name: string | null }>>;

const PLATFORM_PREFIX = 'platform:';

/**
 * The people named by `events`, keyed by the actor or target string as stored. `ofTenant`
 * looks ids up among the users of the events' tenant, `ofPlatform` among the platform's
 * (absent when there is no platform tenant to ask).
 */
export async function auditPeople(events: readonly Pick<AuditEvent, 'actor' | 'target'>[], ofTenant: PeopleByIds, ofPlatform?: PeopleByIds): Promise<Map<string, AuditPerson>> {
  const names = [...new Set(events.flatMap((e) => [e.actor, e.target]).filter((v): v is string => typeof v === 'string' && v !== ''))];
  const platformIds = names.filter((n) => n.startsWith(PLATFORM_PREFIX)).map((n) => n.slice(PLATFORM_PREFIX.length));
  const [tenantPeople, platformPeople] = await Promise.all([
    ofTenant(names.filter((n) => !n.startsWith(PLATFORM_PREFIX))),
    ofPlatform && platformIds.length ? ofPlatform(platformIds) : Promise.resolve(new Map<string, { email: string; name: string | null }>()),
  ]);
  const people = new Map<string, AuditPerson>();
  for (const [id, p] of tenantPeople) people.set(id, { ...p, platform: false });
  for (const [id, p] of platformPeople) people.set(`${PLATFORM_PREFIX}${id}`, { ...p, platform: true });
  return people;
}
