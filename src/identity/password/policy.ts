import type { Config } from '../../config/schema.js';
import type { CommonPasswords } from './common-passwords.js';
import type { PasswordHasher } from './hashing.js';
import { prepareStrengthEstimator, strengthScore } from './strength.js';
import { codePointCount } from '../../text/code-points.js';

export type PasswordPolicyConfig = Config['passwordPolicy'];

/** Stable codes, one per rule; their texts live in views/locales under errors.<CODE>. */
export type PasswordProblem =
  | 'PASSWORD_TOO_SHORT'
  | 'PASSWORD_TOO_LONG'
  | 'PASSWORD_NEEDS_LOWER'
  | 'PASSWORD_NEEDS_UPPER'
  | 'PASSWORD_NEEDS_DIGIT'
  | 'PASSWORD_NEEDS_SYMBOL'
  | 'PASSWORD_CONTAINS_EMAIL'
  | 'PASSWORD_COMMON'
  | 'PASSWORD_TOO_WEAK'
  | 'PASSWORD_IN_HISTORY'
  | 'PASSWORD_CHANGED_TOO_RECENTLY'
  | 'PASSWORD_MISMATCH';

/** Lengths count Unicode code points after NFKC (so 全角 digits count as the digits they are). */
export function passwordLength(password: string): number {
  return codePointCount(password.normalize('NFKC'));
}

/**
 * PW6: the local part of the address and its pieces split on . _ - + that are at least
 * `minLength` long, lower-cased. "taro.yamada+news@example.com" gives taro.yamada+news, taro,
 * yamada, news.
 */
export function emailPieces(email: string, minLength: number): string[] {
  const local = email.normalize('NFKC').toLowerCase().split('@')[0] ?? '';
  const pieces = new Set([local, ...local.split(/[._+-]/)]);
  return [...pieces].filter((piece) => codePointCount(piece) >= minLength);
}

/** The rules a page can check while the user types (PW1, PW2, PW6): no secrets involved. */
export function localProblems(password: string, policy: PasswordPolicyConfig, email: string): PasswordProblem[] {
  const text = password.normalize('NFKC');
  const problems: PasswordProblem[] = [];
  const length = codePointCount(text);
  if (length < policy.minLength) problems.push('PASSWORD_TOO_SHORT');
  if (length > policy.maxLength) problems.push('PASSWORD_TOO_LONG');
  if (policy.requireLower && !/\p{Ll}/u.test(text)) problems.push('PASSWORD_NEEDS_LOWER');
  if (policy.requireUpper && !/\p{Lu}/u.test(text)) problems.push('PASSWORD_NEEDS_UPPER');
  if (policy.requireDigit && !/\p{Nd}/u.test(text)) problems.push('PASSWORD_NEEDS_DIGIT');
  if (policy.requireSymbol && !/[^\p{L}\p{N}]/u.test(text)) problems.push('PASSWORD_NEEDS_SYMBOL');
  const lower = text.toLowerCase();
  if (email && emailPieces(email, policy.emailPieceMinLength).some((piece) => lower.includes(piece))) {
    problems.push('PASSWORD_CONTAINS_EMAIL');
  }
  return problems;
}

export interface PasswordContext {
  email: string;
  /** The second entry of the new password (PW7); omit where a form has one field. */
  confirmation?: string;
  /** Hashes of the current and earlier passwords, newest first (PW3). */
  previousHashes?: string[];
  /** When the password last changed (PW5); absent for a new account. */
  passwordChangedAt?: Date | null;
  /** A reset by verified code: the minimum age applies only if the policy says so. */
  isReset?: boolean;
  now?: Date;
}

/** The settings the page's checklist mirrors (the strength rule it only names). */
const CHECKLIST_SETTINGS = [
  'minLength',
  'maxLength',
  'requireLower',
  'requireUpper',
  'requireDigit',
  'requireSymbol',
  'emailPieceMinLength',
  'minStrength',
] as const;

/**
 * The one judge of a new password (PW1-PW7), used wherever a password is set. Returns every
 * rule it breaks, in a stable order, so a page can show them all at once.
 */
export class PasswordPolicy {
  constructor(
    readonly config: PasswordPolicyConfig,
    private readonly common: CommonPasswords,
    private readonly hasher: PasswordHasher,
  ) {}

  /** Builds what the strength rule needs now: the server calls it at start, a one-off command need not. */
  prepare(): void {
    if (this.config.minStrength > 0) prepareStrengthEstimator();
  }

  async problems(password: string, context: PasswordContext): Promise<PasswordProblem[]> {
    const problems = localProblems(password, this.config, context.email);
    // Compared as they will be hashed (NFKC), so a full-width digit in one entry is no mismatch.
    if (context.confirmation !== undefined && context.confirmation.normalize('NFKC') !== password.normalize('NFKC')) {
      problems.push('PASSWORD_MISMATCH');
    }
    const common = this.config.rejectCommon && this.common.has(password);
    if (common) problems.push('PASSWORD_COMMON');
    // zxcvbn costs milliseconds: not for a password the length or the list already refuses.
    const measurable = !common && !problems.includes('PASSWORD_TOO_SHORT') && !problems.includes('PASSWORD_TOO_LONG');
    if (this.config.minStrength > 0 && measurable) {
      const score = strengthScore(password, emailPieces(context.email, this.config.emailPieceMinLength));
      if (score < this.config.minStrength) problems.push('PASSWORD_TOO_WEAK');
    }

    const changedAt = context.passwordChangedAt;
    if (changedAt && (!context.isReset || this.config.minAgeAppliesToReset)) {
      const age = ((context.now ?? new Date()).getTime() - changedAt.getTime()) / 1000;
      if (age < this.config.minAgeSeconds) problems.push('PASSWORD_CHANGED_TOO_RECENTLY');
    }

    // PW3 costs one bcrypt per remembered password, so only when everything else is fine.
    const history = (context.previousHashes ?? []).slice(0, this.config.historySize);
    if (problems.length === 0 && history.length > 0) {
      const reused = await Promise.all(history.map((hash) => this.hasher.verify(password, hash)));
      if (reused.some(Boolean)) problems.push('PASSWORD_IN_HISTORY');
    }
    return problems;
  }

  /** What the page's live checklist needs to mirror the server's local rules. */
  checklist(): Record<string, number | boolean> {
    return Object.fromEntries(CHECKLIST_SETTINGS.map((key) => [key, this.config[key]]));
  }
}
