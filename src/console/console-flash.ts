/**
 * Post/redirect/get for the console pages (/account, /admin, /platform): a successful POST
 * answers 303 to a GET page, and whatever that page must show once (a client secret just
 * made, new recovery codes, "application created") waits as a flash on the console
 * session: sealed with the master key, bound to that session, in `console_sessions`, never
 * in the URL. The next console page rendered for the session takes it (one statement reads
 * and clears it), so a reload shows the page without it and never repeats the change.
 *
 * A flash is meant for one page (`path`): taken by any other page it is dropped unshown,
 * so a secret cannot surface later somewhere unexpected.
 */
import type { Context } from 'koa';
import type { SecretBox } from '../core/secret-box.ts';
import type { ConsoleSessionStore } from '../accounts/console-session-store.ts';
import type { ConsolePrincipal } from './console-principal.ts';

/** What a page shows once. `notice` is a translation key; the other fields are for the page that reads them. */
export interface Flash {
  /** The path of the GET page the POST redirects to; no other page shows the flash. */
  path: string;
  notice?: string;
  /** A secret shown once (a client secret). */
  secret?: string;
  /** Codes shown once (recovery codes). */
  codes?: string[];
}

const MAX_SEALED = 16_384;
const sealContext = (principal: ConsolePrincipal) => `console-flash:${principal.sessionIdHash}`;

function parse(text: string): Flash | undefined {
  const value = JSON.parse(text) as unknown;
  if (!value || typeof value !== 'object' || typeof (value as Flash).path !== 'string') return undefined;
  return value as Flash;
}

export class ConsoleFlash {
  readonly #box: SecretBox;
  readonly #sessions: ConsoleSessionStore;

  constructor(box: SecretBox, sessions: ConsoleSessionStore) {
    this.#box = box;
    this.#sessions = sessions;
  }

  /** Ends a successful POST: the flash is left for `flash.path`, and the browser is sent there with a GET (303). */
  async redirect(ctx: Context, principal: ConsolePrincipal, flash: Flash): Promise<void> {
    const sealed = this.#box.seal(JSON.stringify(flash), sealContext(principal));
    if (sealed.length > MAX_SEALED) throw new Error('console flash too large');
    await this.#sessions.putFlash(principal.sessionIdHash, sealed);
    ctx.status = 303;
    ctx.redirect(flash.path);
  }

  /**
   * The flash left for this page, taken (so shown once); undefined when there is none, or
   * it was for another page (then it is dropped). Costs nothing when the session has none.
   */
  async take(ctx: Context, principal: ConsolePrincipal): Promise<Flash | undefined> {
    if (!principal.hasFlash || (ctx.method !== 'GET' && ctx.method !== 'HEAD')) return undefined;
    const sealed = await this.#sessions.takeFlash(principal.sessionIdHash);
    principal.hasFlash = false;
    if (!sealed) return undefined;
    let flash: Flash | undefined;
    try {
      flash = parse(this.#box.open(sealed, sealContext(principal)));
    } catch {
      return undefined; // sealed under a retired key or for another session: nothing to show
    }
    return flash && flash.path === ctx.path ? flash : undefined;
  }
}
