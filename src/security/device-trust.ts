import { createHmac, randomBytes, type KeyObject } from 'node:crypto';
import { asKeyList, type KeyList } from './master-secret.js';

/** How many accounts one browser is remembered for (the most recent logins). */
const MAX_ENTRIES = 5;

/**
 * Device cookies (OWASP "Slow Down Online Guessing Attacks with Device Cookies"): a browser that
 * logged in to an account successfully gets an entry for that account, and is then counted
 * apart from strangers when it checks that account's password again. The cookie holds, per
 * account, a tag (an HMAC of the account id, so the cookie does not name the account) and a
 * random nonce that names this browser's own counter. The cookie itself is signed (koa's keys),
 * so entries cannot be made up.
 *
 * The value: `tag.nonce` entries, newest first, joined by `~`.
 */
export class DeviceTrust {
  readonly #keys: KeyList;

  /** The first key tags new entries; entries tagged under an older MONBAN_SECRET are still recognised. */
  constructor(keys: Buffer | KeyList) {
    this.#keys = asKeyList(keys);
  }

  #tag(accountId: string, key: KeyObject): string {
    return createHmac('sha256', key).update(accountId).digest('base64url').slice(0, 22);
  }

  /** The account's tag under each key, the first key's (the one new entries get) first. */
  #tags(accountId: string): [string, ...string[]] {
    const [first, ...older] = this.#keys;
    return [this.#tag(accountId, first.key), ...older.map(({ key }) => this.#tag(accountId, key))];
  }

  #entries(cookie: string | undefined): [string, string][] {
    const entries: [string, string][] = [];
    for (const entry of (cookie ?? '').split('~')) {
      const [tag, nonce, ...rest] = entry.split('.');
      if (tag && nonce && rest.length === 0) entries.push([tag, nonce]);
    }
    return entries;
  }

  /** The nonce this browser holds for the account, if it logged in to it before. */
  nonceFor(cookie: string | undefined, accountId: string): string | undefined {
    const tags = this.#tags(accountId);
    return this.#entries(cookie).find(([entryTag]) => tags.includes(entryTag))?.[1];
  }

  /** The cookie after a successful login to the account: a fresh nonce for it, put first. */
  remember(cookie: string | undefined, accountId: string): string {
    const tags = this.#tags(accountId);
    const [tag] = tags;
    const others = this.#entries(cookie).filter(([entryTag]) => !tags.includes(entryTag));
    const fresh: [string, string] = [tag, randomBytes(12).toString('base64url')];
    return [fresh, ...others]
      .slice(0, MAX_ENTRIES)
      .map((entry) => entry.join('.'))
      .join('~');
  }
}
