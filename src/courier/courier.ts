import { sql } from 'kysely';
import type { Db } from '../db/database.js';
import type { OutboxRow } from '../db/schema.js';
import type { Config } from '../config/schema.js';
import { brandFor } from '../text/branding.js';
import type { Views } from '../text/views.js';
import { translator, type Locale } from '../text/i18n.js';
import type { Logger } from '../logger.js';
import type { SecretBox } from '../security/secret-box.js';
import { DrainLoop } from '../events/drain-loop.js';
import { payloadContext } from './outbox.js';
import type { MailTransport, SmsTransport } from './transports.js';

export interface CourierOptions {
  db: Db;
  box: SecretBox;
  views: Views;
  /** Mail (channel 'email'). */
  transport: MailTransport;
  logger: Logger;
  from: string;
  /** Text messages (channel 'sms'), sent from `smsFrom`. */
  smsTransport: SmsTransport;
  smsFrom: string;
  /**
   * Back-channel logout notices (channel 'logout', OIDC Back-Channel Logout 1.0): signs and
   * POSTs a logout token to the relying party's backchannel_logout_uri. Without it (a process
   * that has no provider) such rows wait for one that has.
   */
  logoutNotices?: LogoutNoticeTransport;
  issuer: string;
  supportEmail: string;
  /** The offered languages (locales): a message for an account whose language is no longer offered uses the default. */
  locales: { readonly supported: readonly Locale[]; readonly default: Locale };
  /** The operator's brand on every mail (logo, colour, footer); see text/branding.ts. */
  branding: Config['branding'];
  /** Whether mail subjects may carry one-time codes (mail.codeInSubject; default no). */
  codeInSubject: boolean;
  /**
   * LISTEN on a channel (DatabaseHandle.listen): the outbox trigger sends NOTIFY monban_outbox
   * when a statement that adds rows commits, in this process or any other.
   */
  listen: (channel: string, handler: () => void) => Promise<void>;
  /** A safety poll, for leases of crashed processes and notifications lost while reconnecting. */
  pollIntervalMs: number;
  maxAttempts: number;
  backoffSeconds: number;
  maxBackoffSeconds: number;
}

/** Delivers one back-channel logout notice; throws when the relying party did not take it. */
export interface LogoutNoticeTransport {
  send(clientId: string, notice: { sub: string; sid: string }): Promise<void>;
}

const BATCH = 10;
const LEASE_SECONDS = 60;

/**
 * Delivers the outbox. It works when told to (NOTIFY from the outbox trigger, or kick() in this
 * process), when a retry falls due, and at a slow safety poll; it does not query an idle outbox.
 * Rows are leased with FOR UPDATE SKIP LOCKED, so any number of processes
 * can run a courier; a failed send is retried with exponential backoff; a crash mid-send only
 * delays the row until its lease runs out. Nothing is lost when the process, the SMTP server or
 * the SMS provider restarts. After sending, the sealed payload (which may hold a code) is deleted.
 * Mail and text messages share the table and all of this; only rendering and sending differ.
 */
export class Courier {
  /** When the earliest retry this process scheduled falls due (epoch ms). */
  #retryAt = Infinity;
  readonly #loop = new DrainLoop(
    () => this.#drain(),
    () => {
      const wait = Math.min(this.options.pollIntervalMs, Math.max(this.#retryAt - Date.now(), 0));
      this.#retryAt = Infinity;
      return wait;
    },
  );

  constructor(private readonly options: CourierOptions) {}

  async start(): Promise<void> {
    await this.options.listen('monban_outbox', () => this.kick());
    this.#loop.start(); // whatever was queued while no courier listened
  }

  async stop(): Promise<void> {
    await this.#loop.stop();
    this.options.transport.close();
    this.options.smsTransport.close();
  }

  /**
   * Deliver soon (after a commit that queued a message) instead of at the next poll: in the next
   * turn of the event loop, once the answer that queued it is on its way, so that an answer does
   * not take longer because it sent something (R5: "if this address has an account, we sent a
   * code" must not be slower when it has).
   */
  kick(): void {
    this.#loop.kick();
  }

  /** Sends batches until nothing is due. */
  async #drain(): Promise<void> {
    try {
      for (;;) {
        const rows = await this.#lease();
        if (rows.length === 0) return;
        for (const row of rows) await this.#deliver(row);
        if (this.#loop.stopped) return;
      }
    } catch (err) {
      this.options.logger.error({ err }, 'courier could not read the outbox');
    }
  }

  async #lease(): Promise<OutboxRow[]> {
    const { db } = this.options;
    const due = db
      .selectFrom('outbox')
      .select('id')
      .where('status', '=', 'pending')
      .where('next_attempt_at', '<=', sql<Date>`now()`)
      .$if(!this.options.logoutNotices, (q) => q.where('channel', '!=', 'logout'))
      .where((eb) => eb.or([eb('locked_until', 'is', null), eb('locked_until', '<', sql<Date>`now()`)]))
      .orderBy('id')
      .limit(BATCH)
      .forUpdate()
      .skipLocked();
    const rows = await db
      .updateTable('outbox')
      .set({ locked_until: sql`now() + make_interval(secs => ${LEASE_SECONDS})`, attempts: sql`attempts + 1` })
      .where('id', 'in', due)
      .returningAll()
      .execute();
    // RETURNING has no order: send in queue order, so a newer code never arrives before an older one.
    return rows.sort((a, b) => (BigInt(a.id) < BigInt(b.id) ? -1 : 1));
  }

  /** The template data (unsealed) with what every template may use. */
  #context(row: OutboxRow): Record<string, unknown> {
    // Rows are leased only while their payload is sealed in them; it is wiped once sent.
    if (row.payload_sealed === null) throw new Error(`outbox row ${row.id} has no payload`);
    const data = JSON.parse(this.options.box.openText(row.payload_sealed, payloadContext(row.recipient))) as Record<
      string,
      unknown
    >;
    const { locales } = this.options;
    const locale = locales.supported.includes(row.locale) ? row.locale : locales.default;
    return {
      ...data,
      i18n: translator(locale),
      lang: locale,
      issuer: this.options.issuer,
      supportEmail: this.options.supportEmail,
      brand: brandFor(this.options.branding, locale, this.options.issuer),
      codeInSubject: this.options.codeInSubject,
    };
  }

  /** Renders the row for its channel and hands it to that channel's transport. */
  async #send(row: OutboxRow): Promise<void> {
    if (row.channel === 'logout') {
      const notice = row.data as { sub: string; sid: string } | null;
      if (!notice || !this.options.logoutNotices) throw new Error(`outbox row ${row.id} cannot be delivered here`);
      await this.options.logoutNotices.send(row.recipient, notice);
      return;
    }
    const context = this.#context(row);
    const { views } = this.options;
    if (row.channel === 'sms') {
      const body = views.text(`sms/${row.template}/text`, context).trim();
      await this.options.smsTransport.send({ from: this.options.smsFrom, to: row.recipient, body }, row.id);
      return;
    }
    const base = `emails/${row.template}`;
    await this.options.transport.send(
      {
        from: this.options.from,
        to: row.recipient,
        subject: views.text(`${base}/subject`, context).trim(),
        text: views.text(`${base}/text`, context),
        html: views.html(`${base}/html`, context, 'layouts/email'),
      },
      row.id,
    );
  }

  async #deliver(row: OutboxRow): Promise<void> {
    const { db, logger } = this.options;
    try {
      await this.#send(row);
      await db
        .updateTable('outbox')
        .set({ status: 'sent', sent_at: new Date(), payload_sealed: null, locked_until: null, last_error: null })
        .where('id', '=', row.id)
        .execute();
    } catch (err) {
      const finalFailure = row.attempts >= this.options.maxAttempts;
      const delay = Math.min(this.options.backoffSeconds * 2 ** (row.attempts - 1), this.options.maxBackoffSeconds);
      const reason = err instanceof Error ? err.message.slice(0, 500) : String(err);
      logger.warn(
        {
          outboxId: row.id,
          channel: row.channel,
          template: row.template,
          attempts: row.attempts,
          finalFailure,
          reason,
        },
        `${{ sms: 'text message', email: 'mail', logout: 'back-channel logout' }[row.channel]} delivery failed`,
      );
      await db
        .updateTable('outbox')
        .set({
          status: finalFailure ? 'failed' : 'pending',
          next_attempt_at: sql`now() + make_interval(secs => ${delay})`,
          locked_until: null,
          last_error: reason,
          ...(finalFailure ? { payload_sealed: null } : {}),
        })
        .where('id', '=', row.id)
        .execute();
      // Timed from after the update: next_attempt_at counts from the database's now() at its
      // start, so a retry timed from before it could fire early, find nothing due, and wait
      // for the safety poll instead.
      if (!finalFailure) this.#retryAt = Math.min(this.#retryAt, Date.now() + delay * 1000 + 20);
    }
  }
}
