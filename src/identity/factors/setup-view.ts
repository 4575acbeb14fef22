import QRCode from 'qrcode';
import type { AccountRow, MfaFactorRow } from '../../db/schema.js';
import type { SecretBox } from '../../security/secret-box.js';
import { describeTotpSecret } from './totp.js';

/** What the authenticator-app setup page shows: the QR code and the secret to type instead. */
export async function totpSetupView(box: SecretBox, account: AccountRow, factor: MfaFactorRow) {
  const { base32, otpauthUrl } = describeTotpSecret(box, account.id, account.email, factor.secret_sealed ?? '');
  return {
    qrDataUrl: await QRCode.toDataURL(otpauthUrl, { errorCorrectionLevel: 'M', margin: 1, width: 220 }),
    // Groups of four, as authenticator apps display and accept them.
    secretGroups: (base32.match(/.{1,4}/g) ?? []).join(' '),
    email: account.email,
    // On a phone the QR code cannot be scanned by that same phone: a tap opens the app instead.
    otpauthUrl,
  };
}
