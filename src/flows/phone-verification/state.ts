import { z } from 'zod';
import { defineFlow } from '../kernel/define.js';

/**
 * A new mobile number waits for the code sent to it by SMS, then is the account's verified
 * number (completed). Starting again with another number supersedes the older flow.
 */
export const PhoneVerificationFlow = defineFlow({
  kind: 'phone_verification',
  states: ['awaiting_code', 'completed', 'superseded'],
  transitions: {
    awaiting_code: ['completed'],
    completed: [],
    superseded: [],
  },
  ttlSeconds: (config) => config.account.phoneFlowTtlSeconds,
  context: z.object({
    /** The number being confirmed, in E.164. */
    phone: z.string(),
  }),
  expired: 'PHONE_VERIFICATION_EXPIRED',
});
