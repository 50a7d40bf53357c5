/** Password sign-in for the tenant in context. */
import { hashPassword, needsRehash, verifyPassword } from './password.ts';
import type { User, UserStore } from './user-store.ts';
import { publicUser } from './user-store.ts';

/**
 * Returns the user when the email and password match an active account. Unknown emails,
 * wrong passwords and disabled accounts all answer undefined after the same hashing work.
 */
export async function authenticate(users: UserStore, email: string, password: string): Promise<User | undefined> {
  const user = await users.findByEmail(email);
  const ok = await verifyPassword(user?.passwordHash, password);
  if (!user || !ok || user.status !== 'active') return undefined;
  if (user.passwordHash && needsRehash(user.passwordHash)) {
    await users.update(user.id, { passwordHash: await hashPassword(password) });
  }
  await users.recordLogin(user.id);
  return publicUser(user);
}
