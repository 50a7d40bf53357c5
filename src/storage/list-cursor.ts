/**
 * The cursors of the users and clients lists (API `cursor`/`next_cursor`, the /admin pages'
 * next and previous links): opaque to clients, base64url of a versioned text naming the list,
 * the direction, the tenant and the position (storage/keyset.ts). The tenant is in it so a
 * cursor from one tenant's list is refused at another's (a 400), never read as a position in
 * a list it did not come from. Anything else is a 400 naming `cursor`, never a database error.
 */
import { badRequest } from '../core/errors.ts';
import type { Direction, Position } from './keyset.ts';

export type ListKind = 'users' | 'clients';

const PREFIX: Record<ListKind, string> = { users: 'u1', clients: 'c1' };
const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';
// Keys: a user id (uuid) or a client id (3-128 URL-safe characters, oidc/client-store.ts).
const KEY: Record<ListKind, string> = { users: UUID, clients: '[A-Za-z0-9._~-]{3,128}' };
// Microseconds since the epoch: up to 17 digits is past the year 5000.
const shape = (kind: ListKind) => new RegExp(`^${PREFIX[kind]}:([ab]):(${UUID}):(\\d{1,17}):(${KEY[kind]})$`);

export function encodeListCursor(kind: ListKind, tenantId: string, direction: Direction, position: Position): string {
  return Buffer.from(`${PREFIX[kind]}:${direction === 'after' ? 'a' : 'b'}:${tenantId}:${position.us}:${position.key}`).toString('base64url');
}

/** The direction and position of a cursor this list of this tenant gave; a 400 naming `field` otherwise. */
export function decodeListCursor(kind: ListKind, tenantId: string, cursor: string, field = 'cursor'): { direction: Direction; position: Position } {
  const match = shape(kind).exec(Buffer.from(cursor, 'base64url').toString());
  if (!match) throw badRequest(`${field}: not a cursor this list returned`, 'invalid_cursor');
  if (match[2] !== tenantId) throw badRequest(`${field}: a cursor of another tenant's list`, 'invalid_cursor');
  return { direction: match[1] === 'a' ? 'after' : 'before', position: { us: match[3]!, key: match[4]! } };
}
