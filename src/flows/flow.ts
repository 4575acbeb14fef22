import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import type { Db } from '../db/database.js';
import type { FlowKind, FlowRow } from '../db/schema.js';
import { AppError } from '../http/errors.js';
import type { CodeHasher } from '../security/codes.js';

/**
 * The record behind every self-service flow (sign-up, recovery, forgot-email): who it is for,
 * where it stands, its one-time code (as an HMAC) and when it expires. Kept in PostgreSQL so it
 * is written in the same transaction as the account change and the mail it causes.
 */
export function newFlowId(): string {
  return randomBytes(18).toString('base64url');
}

export interface NewFlow {
  id: string;
  kind: FlowKind;
  state: string;
  accountId: string | null;
  email: string;
  context: Record<string, unknown>;
  ttlSeconds: number;
}

export async function insertFlow(trx: Db, flow: NewFlow): Promise<void> {
  await trx.insertInto('flows').values({
    id: flow.id,
    kind: flow.kind,
    state: flow.state,
    account_id: flow.accountId,
    email: flow.email,
    context: JSON.stringify(flow.context),
    expires_at: new Date(Date.now() + flow.ttlSeconds * 1000),
    updated_at: new Date(),
  }).execute();
}

/**
 * Older unfinished flows of this kind for the same address, or the same account, stop working
 * (state superseded, code cleared): starting again leaves one live flow.
 */
export async function supersedeFlows(trx: Db, kind: FlowKind, owner: { email: string } | { accountId: string }): Promise<void> {
  await trx.updateTable('flows').set({ state: 'superseded', code_hmac: null, updated_at: new Date() })
    .where('kind', '=', kind)
    .where((eb) => ('email' in owner ? eb('email', '=', owner.email) : eb('account_id', '=', owner.accountId)))
    .where('state', 'not in', ['completed', 'superseded']).execute();
}

/** What a message says about a code's lifetime: whole minutes. */
export const codeMinutes = (policy: CodePolicy): number => Math.round(policy.ttlSeconds / 60);

/** A live flow of the given kind, or undefined when it never existed or has expired. */
export async function findFlow(db: Db, id: string, kind: FlowKind): Promise<FlowRow | undefined> {
  return db.selectFrom('flows').selectAll()
    .where('id', '=', id).where('kind', '=', kind)
    .where('expires_at', '>', sql<Date>`now()`)
    .executeTakeFirst();
}

export async function setFlowState(trx: Db, id: string, from: string, to: string): Promise<boolean> {
  const result = await trx.updateTable('flows').set({ state: to, updated_at: new Date(), code_hmac: null })
    .where('id', '=', id).where('state', '=', from).executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

export interface CodePolicy {
  digits: number;
  ttlSeconds: number;
  maxAttempts: number;
}

/** Gives the flow a fresh code (the old one stops working) and returns it, for the message only. */
export async function issueCode(trx: Db, codes: CodeHasher, flowId: string, policy: CodePolicy): Promise<string> {
  const code = codes.generate(policy.digits);
  await trx.updateTable('flows').set({
    code_hmac: codes.hash(code, flowId),
    code_expires_at: new Date(Date.now() + policy.ttlSeconds * 1000),
    code_attempts: 0,
    updated_at: new Date(),
  }).where('id', '=', flowId).execute();
  return code;
}

export type CodeCheck = 'ok' | 'wrong' | 'expired' | 'exhausted';

/**
 * Spends one attempt, atomically (parallel guesses cannot exceed the limit), then compares in
 * constant time. A code is good for `maxAttempts` tries and `ttlSeconds`, whichever ends first.
 */
export async function checkCode(db: Db, codes: CodeHasher, flowId: string, code: string, policy: CodePolicy): Promise<{ result: CodeCheck; attemptsLeft: number }> {
  const row = await db.updateTable('flows')
    .set({ code_attempts: sql`code_attempts + 1` })
    .where('id', '=', flowId)
    .where('code_attempts', '<', policy.maxAttempts)
    .where('code_hmac', 'is not', null)
    .returning(['code_hmac', 'code_expires_at', 'code_attempts'])
    .executeTakeFirst();
  if (!row) return { result: 'exhausted', attemptsLeft: 0 };
  const attemptsLeft = policy.maxAttempts - row.code_attempts;
  if (!row.code_expires_at || row.code_expires_at.getTime() <= Date.now()) return { result: 'expired', attemptsLeft };
  if (!codes.matches(code, flowId, row.code_hmac!)) return { result: attemptsLeft > 0 ? 'wrong' : 'exhausted', attemptsLeft };
  return { result: 'ok', attemptsLeft };
}

const CODE_ERRORS = { wrong: 'CODE_WRONG', expired: 'CODE_EXPIRED', exhausted: 'CODE_EXHAUSTED' } as const;

/** What the user is told about a code that did not work. */
export function codeError(result: Exclude<CodeCheck, 'ok'>, attemptsLeft: number): AppError {
  return new AppError(CODE_ERRORS[result], 400, { attempts: attemptsLeft });
}

export async function sweepExpiredFlows(db: Db): Promise<void> {
  await db.deleteFrom('flows').where('expires_at', '<', sql<Date>`now() - interval '1 day'`).execute();
}
