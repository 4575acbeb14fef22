import { randomBytes } from 'node:crypto';
import * as OTPAuth from 'otpauth';
import type { Db } from '../../../src/db/database.js';
import { claimTotpStep, newTotpSecret, totpStepFor } from '../../../src/identity/factors/totp.js';
import {
  remainingRecoveryCodes,
  replaceRecoveryCodes,
  useRecoveryCode,
} from '../../../src/identity/factors/recovery-codes.js';
import { SecretBox } from '../../../src/security/secret-box.js';
import { newAccountRow, scratchStorageForSuite, STORAGE_KINDS } from '../../helpers/databases.js';

const box = new SecretBox(randomBytes(32));
const key = randomBytes(32);

async function newAccount(db: Db): Promise<string> {
  return (await newAccountRow(db)).id;
}

describe.each(STORAGE_KINDS)('second factors in the database (%s)', (kind) => {
  const storage = scratchStorageForSuite(kind);
  let db: Db;
  beforeAll(() => {
    db = storage.db;
  });

  it('accepts each TOTP time step once: a replay, or a parallel double submit, fails', async () => {
    const accountId = await newAccount(db);
    const secret = newTotpSecret(box, accountId, 'a@example.com');
    const factor = await db
      .insertInto('mfa_factors')
      .values({ account_id: accountId, kind: 'totp', state: 'active', secret_sealed: secret.sealed })
      .returning('id')
      .executeTakeFirstOrThrow();
    const now = Date.now();
    const code = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(secret.base32) }).generate({ timestamp: now });
    const step = totpStepFor(box, accountId, secret.sealed, code, now)!;

    const outcomes = await Promise.all(Array.from({ length: 20 }, () => claimTotpStep(db, factor.id, step)));
    expect(outcomes.filter(Boolean)).toHaveLength(1);
    expect(await claimTotpStep(db, factor.id, step)).toBe(false); // replay later
    expect(await claimTotpStep(db, factor.id, step - 1)).toBe(false); // an older code after a newer one
    expect(await claimTotpStep(db, factor.id, step + 1)).toBe(true); // the next step is fine
  });

  it('gives 10 recovery codes, stores only their HMACs, and each works once even in parallel', async () => {
    const accountId = await newAccount(db);
    const codes = await replaceRecoveryCodes(db, key, accountId);
    expect(codes).toHaveLength(10);
    expect(new Set(codes).size).toBe(10);
    const stored = await db
      .selectFrom('recovery_codes')
      .select('code_hmac')
      .where('account_id', '=', accountId)
      .execute();
    for (const { code_hmac: hmac } of stored) expect(codes).not.toContain(hmac);

    const outcomes = await Promise.all(
      Array.from({ length: 10 }, () => useRecoveryCode(db, key, accountId, codes[0]!)),
    );
    expect(outcomes.filter(Boolean)).toHaveLength(1);
    expect(await useRecoveryCode(db, key, accountId, codes[1]!.toLowerCase().replace('-', ' '))).toBe(true);
    expect(await remainingRecoveryCodes(db, accountId)).toBe(8);
    expect(await useRecoveryCode(db, key, accountId, 'ZZZZZ-ZZZZZ')).toBe(false);

    const otherAccount = await newAccount(db);
    expect(await useRecoveryCode(db, key, otherAccount, codes[2]!)).toBe(false); // codes belong to their account

    const fresh = await replaceRecoveryCodes(db, key, accountId);
    expect(await useRecoveryCode(db, key, accountId, codes[3]!)).toBe(false); // old set is gone
    expect(await useRecoveryCode(db, key, accountId, fresh[0]!)).toBe(true);
  });
});
