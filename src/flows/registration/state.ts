import { z } from 'zod';
import { defineFlow } from '../kernel/define.js';

/**
 * A sign-up waits for the code mailed to the address, then is completed (the account is
 * active). Signing up again with the same address supersedes the older flow.
 */
export const RegistrationFlow = defineFlow({
  kind: 'registration',
  states: ['awaiting_code', 'completed', 'superseded'],
  transitions: {
    awaiting_code: ['completed'],
    completed: [],
    superseded: [],
  },
  ttlSeconds: (config) => config.registration.flowTtlSeconds,
  context: z.object({
    /** The OIDC interaction the user came from, to return to its login afterwards. */
    interaction: z.string().optional(),
    locale: z.enum(['ja', 'en']),
  }),
  expired: 'FLOW_EXPIRED',
});

export type RegistrationContext = z.infer<typeof RegistrationFlow.context>;
