import { z } from 'zod';
import { defineFlow } from '../kernel/define.js';

/**
 * A password reset (R1-R5) moves forward only:
 *
 *   awaiting_channel -> awaiting_code -> (awaiting_second_factor) -> awaiting_password -> completed
 *
 * awaiting_code may be entered again (a new code replaces the old one, by email or SMS). A flow
 * for an address without an account walks the same states as far as the code, which can never
 * be right. Starting again for the same address supersedes older unfinished flows.
 */
export const RecoveryFlow = defineFlow({
  kind: 'recovery',
  states: [
    'awaiting_channel',
    'awaiting_code',
    'awaiting_second_factor',
    'awaiting_password',
    'completed',
    'superseded',
  ],
  transitions: {
    awaiting_channel: ['awaiting_code'],
    awaiting_code: ['awaiting_code', 'awaiting_second_factor', 'awaiting_password'],
    awaiting_second_factor: ['awaiting_password'],
    awaiting_password: ['completed'],
    completed: [],
    superseded: [],
  },
  ttlSeconds: (config) => config.recovery.flowTtlSeconds,
  context: z.object({
    /** The OIDC interaction the user came from, to log in and continue to the RP afterwards. */
    interaction: z.string().optional(),
    locale: z.enum(['ja', 'en']),
    channel: z.enum(['email', 'sms']).optional(),
    /** The number the user typed for SMS, masked, to say where the code went. */
    maskedPhone: z.string().optional(),
  }),
  expired: 'RESET_EXPIRED',
});

export type RecoveryState = (typeof RecoveryFlow.states)[number];
export type RecoveryContext = z.infer<typeof RecoveryFlow.context>;
export type RecoveryChannel = NonNullable<RecoveryContext['channel']>;
