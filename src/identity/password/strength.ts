import { createRequire } from 'node:module';
import type { ZxcvbnFactory } from '@zxcvbn-ts/core';

// The dictionaries are megabytes of JavaScript: loaded on first use (the server loads them at
// start), so a one-off command such as the admin CLI does not parse them. The packages are CommonJS.
const load = createRequire(import.meta.url);

/**
 * zxcvbn's cost grows with the length checked and, steeply, with the leetspeak substitutions it
 * tries (each one re-runs the dictionary match). Measured on this project's 2-core machine under
 * load (CPU time per check, 16- and 60-character random and crafted passwords): defaults (256,
 * 100) median 100 ms, worst 1.4 s; 32 characters and 2 substitutions median 5 ms, worst 27 ms,
 * with the same scores for the passwords that matter (Password123! 1, P@ssw0rd1234 1). A weak
 * start is enough to judge: a password whose first 32 characters are guessable is refused.
 */
const MAX_CHECKED_LENGTH = 32;
const MAX_LEET_SUBSTITUTIONS = 2;

let estimator: ZxcvbnFactory | undefined;

/**
 * The strength estimator, built once per process (its ranked dictionaries take about half a
 * second): leaked passwords and common words, English and Japanese words and names, keyboard
 * patterns.
 */
function zxcvbn(): ZxcvbnFactory {
  if (estimator) return estimator;
  const { ZxcvbnFactory: Factory } = load('@zxcvbn-ts/core') as typeof import('@zxcvbn-ts/core');
  const common = load('@zxcvbn-ts/language-common') as typeof import('@zxcvbn-ts/language-common');
  const english = load('@zxcvbn-ts/language-en') as typeof import('@zxcvbn-ts/language-en');
  const japanese = load('@zxcvbn-ts/language-ja') as typeof import('@zxcvbn-ts/language-ja');
  estimator = new Factory({
    dictionary: { ...common.dictionary, ...english.dictionary, ...japanese.dictionary },
    graphs: common.adjacencyGraphs,
    maxLength: MAX_CHECKED_LENGTH,
    l33tMaxSubstitutions: MAX_LEET_SUBSTITUTIONS,
  });
  return estimator;
}

/** Builds the estimator now (at start), so the first person to choose a password does not wait for it. */
export function prepareStrengthEstimator(): void {
  zxcvbn();
}

/**
 * How hard a password is to guess, 0 (a top-100 password) to 4 (more than 10^10 guesses), as
 * zxcvbn estimates it: common passwords and words with capitals, leetspeak, years, digits and
 * symbols added, keyboard runs, repeats and dates all count as little (NIST 800-63B 5.1.1.2: refuse
 * commonly used, expected or compromised values). `userInputs` are words of the account's own
 * (the address's pieces) that make a password guessable too.
 */
export function strengthScore(password: string, userInputs: string[] = []): number {
  return zxcvbn().check(password.normalize('NFKC'), userInputs).score;
}
