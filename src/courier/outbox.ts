import type { Db } from '../db/database.js';
import type { AccountRow, OutboxTable } from '../db/schema.js';
import type { SecretBox } from '../security/secret-box.js';
import { personName } from '../text/format.js';

export type Channel = OutboxTable['channel'];

export interface OutgoingMessage {
  to: string;
  /** A folder under views/emails/ (mail) or views/sms/ (text messages). */
  template: string;
  locale: 'ja' | 'en';
  data: Record<string, unknown>;
}

export type OutgoingMail = OutgoingMessage;

export interface OutgoingSms extends OutgoingMessage {
  /** E.164: a plus sign, the country code and the number, nothing else (e.g. +819012345678). */
  to: string;
}

export const E164 = /^\+[1-9]\d{6,14}$/;

export const payloadContext = (recipient: string) => `outbox:${recipient}`;

async function enqueue(trx: Db, box: SecretBox, channel: Channel, message: OutgoingMessage): Promise<void> {
  await trx
    .insertInto('outbox')
    .values({
      channel,
      template: message.template,
      locale: message.locale,
      recipient: message.to,
      payload_sealed: box.seal(JSON.stringify(message.data), payloadContext(message.to)),
    })
    .execute();
}

/**
 * Puts a message in the outbox. Call it with the transaction that makes the change the message
 * reports, so the two are committed together or not at all; the courier sends it afterwards.
 */
export async function enqueueMail(trx: Db, box: SecretBox, mail: OutgoingMail): Promise<void> {
  await enqueue(trx, box, 'email', mail);
}

/** Many mails in one statement (a company's invitations, up to 500), committed like enqueueMail. */
export async function enqueueMails(trx: Db, box: SecretBox, mails: OutgoingMail[]): Promise<void> {
  if (mails.length === 0) return;
  await trx
    .insertInto('outbox')
    .values(
      mails.map((mail) => ({
        channel: 'email' as const,
        template: mail.template,
        locale: mail.locale,
        recipient: mail.to,
        payload_sealed: box.seal(JSON.stringify(mail.data), payloadContext(mail.to)),
      })),
    )
    .execute();
}

/**
 * A mail to an account's own address, in its language, greeting it by its full name in that
 * language's order (`name` in the data: 「佐藤 花子 様」, "Hello Hanako Sato,").
 */
export async function enqueueAccountMail(
  trx: Db,
  box: SecretBox,
  account: Pick<AccountRow, 'email' | 'locale' | 'given_name' | 'family_name'>,
  template: string,
  data: Record<string, unknown> = {},
): Promise<void> {
  await enqueueMail(trx, box, {
    to: account.email,
    template,
    locale: account.locale,
    data: { name: personName(account, account.locale), ...data },
  });
}

/**
 * Puts a text message in the outbox, like enqueueMail: same transaction, same sealing, same
 * courier. `to` must already be normalised to E.164; anything else is a programming error.
 */
export async function enqueueSms(trx: Db, box: SecretBox, sms: OutgoingSms): Promise<void> {
  if (!E164.test(sms.to)) throw new Error('enqueueSms: the number must be in E.164 form (+ country code and number)');
  await enqueue(trx, box, 'sms', sms);
}

/** What the metrics show of the outbox: messages waiting, the oldest one's age, and given-up ones. */
export async function outboxState(db: Db): Promise<{ pending: number; oldestPendingSeconds: number; failed: number }> {
  const row = await db
    .selectFrom('outbox')
    .select((eb) => [
      eb.fn.count<string>('id').filterWhere('status', '=', 'pending').as('pending'),
      eb.fn.count<string>('id').filterWhere('status', '=', 'failed').as('failed'),
      eb.fn.min('created_at').filterWhere('status', '=', 'pending').as('oldest'),
    ])
    .executeTakeFirstOrThrow();
  // min() over no rows is NULL, whatever the column's type says.
  const oldestValue: unknown = row.oldest;
  const oldest = oldestValue ? new Date(oldestValue as string).getTime() : undefined;
  return {
    pending: Number(row.pending),
    failed: Number(row.failed),
    oldestPendingSeconds: oldest ? Math.max(0, (Date.now() - oldest) / 1000) : 0,
  };
}
