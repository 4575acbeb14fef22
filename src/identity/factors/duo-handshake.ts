import { z } from 'zod';
import type { DuoGateway } from './duo.js';

/**
 * The state of one trip to Duo's prompt, kept where the page that sent the browser there keeps
 * its own state (the login's interaction, the reset's cookie, the console's cookie) until Duo
 * sends the browser back. It is bound to that page's owner (`boundTo`: the interaction, the
 * reset flow, the console session) and to a deadline, and it is used once.
 */
export const PendingDuo = z.object({
  /** The OAuth `state` given to Duo (OIDC Core 3.1.2.1): the callback must bring it back. */
  state: z.string().min(1),
  boundTo: z.string().min(1),
  /** Until when (ms since the epoch) the callback is accepted: mfa.stepSeconds after the start. */
  until: z.number(),
  /** Why the user went: to pass the login's second factor or to set Duo up. */
  purpose: z.enum(['login', 'setup']),
  /** "Remember this browser" as ticked on the page (Duo's redirect carries no form). */
  remember: z.boolean(),
});
export type PendingDuo = z.infer<typeof PendingDuo>;

export interface DuoTrip {
  /** Duo's callback on this server for this page (the same at the start and at the end). */
  callbackUrl: string;
  /** The name Duo authenticates: the account's email address. */
  username: string;
  boundTo: string;
}

/**
 * Duo's Universal Prompt round trip, the same for the login, the password reset and the
 * console: `start` (Duo's health check first; DUO_UNAVAILABLE when Duo does not answer, so the
 * step fails closed) and `finish` (the state this browser was given, still in time, bound to the
 * same owner, and Duo approved this user).
 */
export class DuoHandshake {
  constructor(
    private readonly duo: DuoGateway,
    private readonly stepSeconds: number,
  ) {}

  get enabled(): boolean {
    return this.duo.enabled;
  }

  /** Where to send the browser, and what to keep until it comes back. */
  async start(
    trip: DuoTrip,
    options: { purpose?: PendingDuo['purpose']; remember?: boolean } = {},
  ): Promise<{ url: string; pending: PendingDuo }> {
    const { url, state } = await this.duo.start(trip.callbackUrl, trip.username);
    return {
      url,
      pending: {
        state,
        boundTo: trip.boundTo,
        until: Date.now() + this.stepSeconds * 1000,
        purpose: options.purpose ?? 'login',
        remember: options.remember ?? false,
      },
    };
  }

  /**
   * Back from Duo with `query`. `approved` only when Duo approved the user on a trip this browser
   * started for the same owner, in time; a denial, an error, another user, a late or foreign
   * callback, a forged or replayed code are not. `pending` is the trip as kept, when it was this
   * owner's (to tell what it was for), approved or not.
   */
  async finish(
    trip: DuoTrip,
    kept: unknown,
    query: Record<string, unknown>,
  ): Promise<{ approved: boolean; pending: PendingDuo | undefined }> {
    const parsed = PendingDuo.safeParse(kept);
    const pending = parsed.success && parsed.data.boundTo === trip.boundTo ? parsed.data : undefined;
    if (!pending || Date.now() > pending.until) return { approved: false, pending };
    const approved = await this.duo.approved(trip.callbackUrl, trip.username, pending.state, query);
    return { approved, pending };
  }
}
