import { sql } from 'kysely';
import type { Db } from '../../db/database.js';
import type { CompanyRenameRow } from '../../db/schema.js';
import { isUniqueViolation } from '../../db/unique-violation.js';
import { isUuid } from '../../db/uuid.js';
import { AppError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import { DrainLoop } from '../../events/drain-loop.js';
import { recordAudit } from '../../security/audit.js';
import type { AddressChanger } from '../accounts/address-change.js';
import { domainOfEmail, normalizeDomain } from './domains.js';
import { domainsOf } from './repository.js';
import type { CompanyActor } from './service.js';

/**
 * A company's bulk rename (M3, M4): after a merger every member at one of its domains moves to
 * another of its verified domains, keeping the part before the @. Starting one snapshots the
 * members into one item each; a worker in every server process then starts each member's
 * verified address change (account on hold until the code from the new address is entered) in
 * the same transaction that marks the item done. A process that dies mid-item rolls that item
 * back, and the next worker takes it again: each member is renamed once, none is lost.
 */
export interface RenameView {
  id: string;
  company_id: string;
  from_domain: string;
  to_domain: string;
  requested_by: string;
  total: number;
  done: number;
  skipped: number;
  finished: boolean;
  finished_at: string | null;
  created_at: string;
}

export function renameView(row: CompanyRenameRow): RenameView {
  return {
    id: row.id,
    company_id: row.company_id,
    from_domain: row.from_domain,
    to_domain: row.to_domain,
    requested_by: row.requested_by,
    total: row.total,
    done: row.done,
    skipped: row.skipped,
    finished: row.finished_at !== null,
    finished_at: row.finished_at?.toISOString() ?? null,
    created_at: row.created_at.toISOString(),
  };
}

/** The NOTIFY channel of a started rename: workers LISTEN on it. */
export const RENAME_CHANNEL = 'monban_renames';

/** Snapshots the members at `from` into a new rename job; refused while another one runs. */
export async function startRename(
  db: Db,
  companyId: string,
  input: { from: string; to: string },
  by: CompanyActor,
): Promise<RenameView> {
  const from = normalizeDomain(input.from);
  const to = normalizeDomain(input.to);
  if (!from || !to) throw new AppError('DOMAIN_INVALID');
  if (from === to) throw new AppError('RENAME_SAME_DOMAIN');
  if (!isUuid(companyId)) throw new AppError('NOT_FOUND');
  try {
    return await db.transaction().execute(async (trx) => {
      const company = await trx
        .selectFrom('companies')
        .select('id')
        .where('id', '=', companyId)
        .forUpdate()
        .executeTakeFirst();
      if (!company) throw new AppError('NOT_FOUND');
      const verified = new Set(
        (await domainsOf(trx, companyId)).filter((d) => d.verified_at !== null).map((d) => d.domain),
      );
      // Both ends are the company's own proven domains: it speaks for the old addresses and the new.
      if (!verified.has(from) || !verified.has(to)) throw new AppError('RENAME_DOMAIN_NOT_VERIFIED');
      const members = await trx
        .selectFrom('company_memberships as m')
        .innerJoin('accounts as a', 'a.id', 'm.account_id')
        .select(['a.id', 'a.email'])
        .where('m.company_id', '=', companyId)
        .where('a.email', 'like', `%@${from.replace(/[\\%_]/g, '\\$&')}`)
        .execute();
      const row = await trx
        .insertInto('company_renames')
        .values({
          company_id: companyId,
          from_domain: from,
          to_domain: to,
          requested_by: by.actor,
          total: members.length,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      if (members.length > 0) {
        await trx
          .insertInto('company_rename_items')
          .values(
            members.map((m) => ({
              rename_id: row.id,
              account_id: m.id,
              new_email: `${m.email.slice(0, m.email.lastIndexOf('@'))}@${to}`,
            })),
          )
          .execute();
      }
      // Every process's worker hears it at the commit (the CLI has none of its own).
      if (members.length > 0) await sql`select pg_notify(${RENAME_CHANNEL}, ${row.id})`.execute(trx);
      await recordAudit(
        trx,
        {
          type: 'company.rename_started',
          companyId,
          actor: by.actor,
          details: { rename: row.id, from, to, members: members.length },
        },
        by.meta,
      );
      return renameView(members.length > 0 ? row : await finish(trx, row.id));
    });
  } catch (error) {
    if (isUniqueViolation(error, 'company_renames_running')) throw new AppError('RENAME_RUNNING');
    throw error;
  }
}

async function finish(trx: Db, renameId: string): Promise<CompanyRenameRow> {
  return trx
    .updateTable('company_renames')
    .set({ finished_at: new Date() })
    .where('id', '=', renameId)
    .returningAll()
    .executeTakeFirstOrThrow();
}

export async function listRenames(db: Db, companyId: string, limit = 20): Promise<RenameView[]> {
  if (!isUuid(companyId)) return [];
  const rows = await db
    .selectFrom('company_renames')
    .selectAll()
    .where('company_id', '=', companyId)
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .limit(limit)
    .execute();
  return rows.map(renameView);
}

export async function getRename(db: Db, companyId: string, renameId: string): Promise<RenameView> {
  if (!isUuid(companyId) || !isUuid(renameId)) throw new AppError('NOT_FOUND');
  const row = await db
    .selectFrom('company_renames')
    .selectAll()
    .where('company_id', '=', companyId)
    .where('id', '=', renameId)
    .executeTakeFirst();
  if (!row) throw new AppError('NOT_FOUND');
  return renameView(row);
}

export interface RenameWorkerOptions {
  db: Db;
  /** LISTEN on a channel (DatabaseHandle.listen). */
  listen: (channel: string, handler: () => void) => Promise<void>;
  logger: Logger;
  addresses: AddressChanger;
  /** The safety poll: an item left by a process that died is taken up by another within this time. */
  pollIntervalMs: number;
  /** After each item the courier may have mail to send. */
  mailQueued: () => void;
}

/**
 * Works through unfinished renames, one member per transaction, in any number of processes at
 * once (items are taken with FOR UPDATE SKIP LOCKED). Woken by the NOTIFY of a start in any
 * process, and by a slow poll for items left by a process that died; idle, it queries nothing.
 */
export class RenameWorker {
  readonly #loop = new DrainLoop(
    () => this.#drain(),
    () => this.options.pollIntervalMs,
  );

  constructor(private readonly options: RenameWorkerOptions) {}

  async start(): Promise<void> {
    await this.options.listen(RENAME_CHANNEL, () => this.kick());
    this.#loop.start(); // whatever was left unfinished while no worker ran
  }

  stop(): Promise<void> {
    return this.#loop.stop();
  }

  kick(): void {
    this.#loop.kick();
  }

  /** Resolves once this process has no rename work under way or due. */
  settled(): Promise<void> {
    return this.#loop.settled();
  }

  async #drain(): Promise<void> {
    try {
      while (!this.#loop.stopped && (await this.#step()));
    } catch (err) {
      this.options.logger.error({ err }, 'the company rename worker failed');
    }
  }

  /** Renames one member of some unfinished job, or finishes a job with none left; false when idle. */
  async #step(): Promise<boolean> {
    const { db } = this.options;
    let renamed: string | undefined;
    const worked = await db.transaction().execute(async (trx) => {
      const item = await trx
        .selectFrom('company_rename_items as i')
        .innerJoin('company_renames as r', 'r.id', 'i.rename_id')
        .select(['i.rename_id', 'i.account_id', 'i.new_email', 'r.company_id', 'r.requested_by'])
        .where('i.state', '=', 'pending')
        .where('r.finished_at', 'is', null)
        .orderBy('r.created_at')
        .limit(1)
        .forUpdate('i')
        .skipLocked()
        .executeTakeFirst();
      if (!item) return this.#finishEmpty(trx);
      const outcome = await this.#renameOne(trx, item);
      await trx
        .updateTable('company_rename_items')
        .set({ state: outcome.state, reason: outcome.reason ?? null, finished_at: new Date() })
        .where('rename_id', '=', item.rename_id)
        .where('account_id', '=', item.account_id)
        .execute();
      await trx
        .updateTable('company_renames')
        .set((eb) => (outcome.state === 'done' ? { done: eb('done', '+', 1) } : { skipped: eb('skipped', '+', 1) }))
        .where('id', '=', item.rename_id)
        .execute();
      if (outcome.state === 'done') renamed = item.account_id;
      return true;
    });
    if (renamed) {
      await this.options.addresses.settle(renamed);
      this.options.mailQueued();
    }
    return worked;
  }

  /**
   * The member's change, in a savepoint: a refusal (the address taken by another account, the
   * member gone from the company or from the old domain) skips that member with its reason.
   */
  async #renameOne(
    trx: Db,
    item: { account_id: string; new_email: string; company_id: string; requested_by: string },
  ): Promise<{ state: 'done' | 'skipped'; reason?: string }> {
    const still = await trx
      .selectFrom('company_memberships as m')
      .innerJoin('accounts as a', 'a.id', 'm.account_id')
      .select('a.email')
      .where('m.company_id', '=', item.company_id)
      .where('m.account_id', '=', item.account_id)
      .executeTakeFirst();
    if (!still) return { state: 'skipped', reason: 'NOT_A_MEMBER' };
    if (still.email === item.new_email) return { state: 'skipped', reason: 'ALREADY_RENAMED' };
    if (domainOfEmail(still.email) === domainOfEmail(item.new_email))
      return { state: 'skipped', reason: 'ADDRESS_CHANGED' };
    await sql`savepoint rename_item`.execute(trx);
    try {
      await this.options.addresses.start(trx, {
        accountId: item.account_id,
        newEmail: item.new_email,
        actor: item.requested_by,
        companyId: item.company_id,
      });
      await sql`release savepoint rename_item`.execute(trx);
      return { state: 'done' };
    } catch (error) {
      if (!(error instanceof AppError)) throw error;
      await sql`rollback to savepoint rename_item`.execute(trx);
      return { state: 'skipped', reason: error.code };
    }
  }

  /** Marks the oldest unfinished job with no pending item as finished; false when there is none. */
  async #finishEmpty(trx: Db): Promise<boolean> {
    const job = await trx
      .selectFrom('company_renames as r')
      .selectAll()
      .where('r.finished_at', 'is', null)
      .where((eb) =>
        eb.not(
          eb.exists(
            eb
              .selectFrom('company_rename_items as i')
              .select('i.account_id')
              .whereRef('i.rename_id', '=', 'r.id')
              .where('i.state', '=', 'pending'),
          ),
        ),
      )
      .limit(1)
      .forUpdate()
      .skipLocked()
      .executeTakeFirst();
    if (!job) return false;
    const done = await finish(trx, job.id);
    await recordAudit(trx, {
      type: 'company.rename_finished',
      companyId: job.company_id,
      actor: job.requested_by,
      details: { rename: job.id, from: job.from_domain, to: job.to_domain, done: done.done, skipped: done.skipped },
    });
    return true;
  }
}
