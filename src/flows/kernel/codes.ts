import { sql } from 'kysely';
import type { Db } from '../../db/database.js';
import { AppError } from '../../errors.js';
import type { RequestMeta } from '../../request-meta.js';
import { recordAudit } from '../../security/audit.js';
import type { CodeHasher } from '../../security/codes.js';
import type { CodeThrottle } from '../../security/rate-limit/code-throttle.js';

/** A flow's one-time codes: how many digits, how long they live, how many tries (config `codes`). */
export interface CodePolicy {
  digits: number;
  ttlSeconds: number;
  maxAttempts: number;
}

/** What a message says about a code's lifetime: whole minutes. */
export const codeMinutes = (policy: CodePolicy): number => Math.round(policy.ttlSeconds / 60);

/** Gives the flow a fresh code (the old one stops working) and returns it, for the message only. */
export async function issueCode(trx: Db, codes: CodeHasher, flowId: string, policy: CodePolicy): Promise<string> {
  const code = codes.generate(policy.digits);
  await trx
    .updateTable('flows')
    .set({
      code_hmac: codes.hash(code, flowId),
      code_expires_at: new Date(Date.now() + policy.ttlSeconds * 1000),
      code_attempts: 0,
      updated_at: new Date(),
    })
    .where('id', '=', flowId)
    .execute();
  return code;
}

export type CodeCheck = 'ok' | 'wrong' | 'expired' | 'exhausted';

/**
 * Spends one attempt, atomically (parallel guesses cannot exceed the limit), then compares in
 * constant time. A code is good for `maxAttempts` tries and `ttlSeconds`, whichever ends first.
 */
export async function checkCode(
  db: Db,
  codes: CodeHasher,
  flowId: string,
  code: string,
  policy: CodePolicy,
): Promise<{ result: CodeCheck; attemptsLeft: number }> {
  const row = await db
    .updateTable('flows')
    .set({ code_attempts: sql`code_attempts + 1` })
    .where('id', '=', flowId)
    .where('code_attempts', '<', policy.maxAttempts)
    .where('code_hmac', 'is not', null)
    .returning(['code_hmac', 'code_expires_at', 'code_attempts'])
    .executeTakeFirst();
  if (!row) return { result: 'exhausted', attemptsLeft: 0 };
  const attemptsLeft = policy.maxAttempts - row.code_attempts;
  if (!row.code_expires_at || row.code_expires_at.getTime() <= Date.now()) return { result: 'expired', attemptsLeft };
  if (row.code_hmac === null || !codes.matches(code, flowId, row.code_hmac))
    return { result: attemptsLeft > 0 ? 'wrong' : 'exhausted', attemptsLeft };
  return { result: 'ok', attemptsLeft };
}

const CODE_ERRORS = { wrong: 'CODE_WRONG', expired: 'CODE_EXPIRED', exhausted: 'CODE_EXHAUSTED' } as const;

/** What the user is told about a code that did not work. */
export function codeError(result: Exclude<CodeCheck, 'ok'>, attemptsLeft: number): AppError {
  return new AppError(CODE_ERRORS[result], { attempts: attemptsLeft });
}

export interface CountedCodeDeps {
  db: Db;
  codes: CodeHasher;
  codeThrottle: CodeThrottle;
  config: { codes: CodePolicy };
}

/** A code typed into a flow, with what its daily cap and its audit row need to know. */
export interface CodeAttempt {
  flowId: string;
  code: string;
  /** What the code is for and how it was sent (the audit row's details). */
  purpose: 'activation' | 'reset' | 'phone';
  channel: 'email' | 'sms';
  /** Whose daily cap it draws from (codeSubject). */
  subject: string;
  /** The account, when there is one (the audit row). */
  accountId: string | null;
  /** This browser's device-cookie nonce for the account, when it logged in to it before. */
  device?: string | undefined;
  /** False when even the right code must fail (a reset for an address without an account). */
  usable?: boolean;
}

/**
 * checkCode behind the daily cap on wrong codes (CodeThrottle, counted before the check), with
 * an audit row for every code that did not work (`code.failed`) and every attempt the cap
 * refused (`code.throttled`); a right code gives its attempt back.
 */
export async function checkCountedCode(
  deps: CountedCodeDeps,
  attempt: CodeAttempt,
  meta?: RequestMeta,
): Promise<{ result: CodeCheck; attemptsLeft: number }> {
  const details = { purpose: attempt.purpose, channel: attempt.channel };
  let counted;
  try {
    counted = await deps.codeThrottle.begin(attempt.subject, { device: attempt.device });
  } catch (err) {
    await recordAudit(deps.db, { type: 'code.throttled', accountId: attempt.accountId, details }, meta);
    throw err;
  }
  const checked = await checkCode(deps.db, deps.codes, attempt.flowId, attempt.code, deps.config.codes);
  if (checked.result === 'ok' && attempt.usable !== false) {
    await deps.codeThrottle.succeeded(counted);
    return checked;
  }
  const result = checked.result === 'ok' ? 'wrong' : checked.result;
  await recordAudit(
    deps.db,
    { type: 'code.failed', accountId: attempt.accountId, details: { ...details, result } },
    meta,
  );
  return { result, attemptsLeft: checked.attemptsLeft };
}
