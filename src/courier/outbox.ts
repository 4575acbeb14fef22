import type { Db } from '../db/database.js';
import type { SecretBox } from '../security/secret-box.js';

export interface OutgoingMail {
  to: string;
  /** A folder under views/emails/. */
  template: string;
  locale: 'ja' | 'en';
  data: Record<string, unknown>;
}

export const payloadContext = (recipient: string) => `outbox:${recipient}`;

/**
 * Puts a message in the outbox. Call it with the transaction that makes the change the message
 * reports, so the two are committed together or not at all; the courier sends it afterwards.
 */
export async function enqueueMail(trx: Db, box: SecretBox, mail: OutgoingMail): Promise<void> {
  await trx.insertInto('outbox').values({
    channel: 'email',
    template: mail.template,
    locale: mail.locale,
    recipient: mail.to,
    payload_sealed: box.seal(JSON.stringify(mail.data), payloadContext(mail.to)),
  }).execute();
}
