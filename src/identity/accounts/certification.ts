import { createHmac } from 'node:crypto';

/**
 * The certification hash (PR3): a stable identifier of the account that certification
 * programs can record without learning the address or the internal id. HMAC-SHA256 keyed with
 * a secret derived from the master secret, so it cannot be computed or reversed from outside.
 */
export function certificationHash(key: Buffer, accountId: string): string {
  const hex = createHmac('sha256', key).update(`certification:${accountId}`).digest('hex').slice(0, 32).toUpperCase();
  return (hex.match(/.{4}/g) ?? []).join('-');
}
