/**
 * The deployment's id (migration 025), made once when its database was first migrated: every
 * instance on that database reads the same one, and no other database has it. What a
 * deployment shares with others on one Redis is named by it (the event bus channel).
 */
import type { Database } from './database.ts';

export async function readDeploymentId(db: Database): Promise<string> {
  const id = await db.crossTenant('read the deployment id', async (q) => (await q.query<{ id: string }>('SELECT id FROM deployment')).rows[0]?.id);
  // Only a hand-edited database lacks the row; starting anyway would put this deployment's events on no one's channel.
  if (!id) throw new Error('the deployment table is empty: restore its row (INSERT INTO deployment DEFAULT VALUES) as the database owner');
  return id;
}
