/**
 * A password reset (R1-R5) moves forward only:
 *
 *   awaiting_channel -> awaiting_code -> (awaiting_second_factor) -> awaiting_password -> completed
 *
 * awaiting_code may be entered again (a new code replaces the old one). A flow for an address
 * without an account walks the same states as far as the code, which can never be right.
 * Starting again for the same address supersedes older unfinished flows.
 */
export const RecoveryState = {
  awaitingChannel: 'awaiting_channel',
  awaitingCode: 'awaiting_code',
  awaitingSecondFactor: 'awaiting_second_factor',
  awaitingPassword: 'awaiting_password',
  completed: 'completed',
  superseded: 'superseded',
} as const;

export type RecoveryState = (typeof RecoveryState)[keyof typeof RecoveryState];

export type RecoveryChannel = 'email' | 'sms';

/** What the flow remembers between pages. */
export interface RecoveryContext {
  /** The OIDC interaction the user came from, to log in and continue to the RP afterwards. */
  interaction?: string;
  locale: 'ja' | 'en';
  channel?: RecoveryChannel;
  /** The number the user typed for SMS, masked, to say where the code went. */
  maskedPhone?: string;
}
