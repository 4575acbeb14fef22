import type { ErrorCode } from '../../errors.js';
import { codePointCount } from '../../text/code-points.js';

const MAX_NAME = 100;

/** Why a given or family name cannot be used, or undefined. */
export function nameProblem(name: string): ErrorCode | undefined {
  const trimmed = name.trim();
  if (!trimmed) return 'NAME_REQUIRED';
  if (codePointCount(trimmed) > MAX_NAME) return 'NAME_TOO_LONG';
  // Control and invisible formatting characters have no place in a name.
  if (/[\p{Cc}\p{Cf}]/u.test(trimmed)) return 'NAME_INVALID';
  return undefined;
}

/** The problems of a given and a family name, each reported once (both empty: one NAME_REQUIRED). */
export function namesProblems(givenName: string, familyName: string): ErrorCode[] {
  const problems: ErrorCode[] = [];
  for (const name of [givenName, familyName]) {
    const issue = nameProblem(name);
    if (issue && !problems.includes(issue)) problems.push(issue);
  }
  return problems;
}
