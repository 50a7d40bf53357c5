/** Password sign-in for the tenant in context. */
import { hashPassword, needsRehash, verifyPassword } from './password.ts';
import type { User, UserStore } from './user-store.ts';
import { publicUser } from './user-store.ts';

/**
 * Lockout (accounts/lockout.ts): told every checked attempt, for known and unknown emails
 * alike (the same work either way); false refuses it.
 */
export interface SignInGuard {
  admit(attempt: { email: string; succeeded: boolean; userId: string | undefined }): Promise<boolean>;
}

/**
 * Runs what follows a matching password (the guard admitting it, the last sign-in written)
 * and returns its answer: the caller's wrapper may open one transaction for it, which its
 * own writes (the sign-in's audit event) join.
 */
export type Settle = (admit: () => Promise<User | undefined>) => Promise<User | undefined>;

/**
 * Returns the user when the email and password match an active account. Unknown emails,
 * wrong passwords and disabled accounts all answer undefined after the same hashing work.
 */
export async function authenticate(users: UserStore, email: string, password: string, guard?: SignInGuard, settle: Settle = (admit) => admit()): Promise<User | undefined> {
  const user = await users.findByEmail(email);
  const ok = await verifyPassword(user?.passwordHash, password);
  const succeeded = Boolean(user && ok && user.status === 'active');
  const admit = async () => {
    // After the same hashing work: a locked account answers exactly like a wrong password.
    if (guard && !(await guard.admit({ email, succeeded, userId: user?.id }))) return undefined;
    if (!user || !succeeded) return undefined;
    if (user.passwordHash && needsRehash(user.passwordHash)) {
      await users.update(user.id, { passwordHash: await hashPassword(password) });
    }
    await users.recordLogin(user.id);
    return publicUser(user);
  };
  // A failed attempt's count stands on its own, whatever happens to the request after it.
  return succeeded ? settle(admit) : admit();
}
