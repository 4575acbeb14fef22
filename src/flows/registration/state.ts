/**
 * A sign-up moves from awaiting_code to completed once the code from the mail is entered. When
 * the same address starts again, the older flow becomes superseded and its code stops working.
 */
export const RegistrationState = {
  awaitingCode: 'awaiting_code',
  completed: 'completed',
  superseded: 'superseded',
} as const;

export type RegistrationState = (typeof RegistrationState)[keyof typeof RegistrationState];

/** What the flow remembers between pages. */
export interface RegistrationContext {
  /** The OIDC interaction the user came from, to return to its login afterwards. */
  interaction?: string;
  locale: 'ja' | 'en';
  givenName: string;
}
