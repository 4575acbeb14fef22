import type { FlowDefinition } from '../../src/flows/kernel/define.js';
import { PhoneVerificationFlow } from '../../src/flows/phone-verification/state.js';
import { RecoveryFlow } from '../../src/flows/recovery/state.js';
import { RegistrationFlow } from '../../src/flows/registration/state.js';

/** Every move the kernel allows, state by state (the table plus "a live flow may be superseded"). */
function allowedMoves<S extends string>(def: FlowDefinition<S, unknown>): Record<string, string[]> {
  return Object.fromEntries(def.states.map((from) => [from, def.states.filter((to) => def.canMove(from, to))]));
}

describe('flow transition tables', () => {
  it('sign-up: awaiting_code -> completed; superseded when the address signs up again', () => {
    expect(RegistrationFlow.initial).toBe('awaiting_code');
    expect(allowedMoves(RegistrationFlow)).toEqual({
      awaiting_code: ['completed', 'superseded'],
      completed: [],
      superseded: [],
    });
    expect(RegistrationFlow.expired).toBe('FLOW_EXPIRED');
  });

  it('password reset: forward only, the code step may repeat, the second factor only when the account has one', () => {
    expect(RecoveryFlow.initial).toBe('awaiting_channel');
    expect(allowedMoves(RecoveryFlow)).toEqual({
      awaiting_channel: ['awaiting_code', 'superseded'],
      awaiting_code: ['awaiting_code', 'awaiting_second_factor', 'awaiting_password', 'superseded'],
      awaiting_second_factor: ['awaiting_password', 'superseded'],
      awaiting_password: ['completed', 'superseded'],
      completed: [],
      superseded: [],
    });
    // Never around the code, never back.
    expect(RecoveryFlow.canMove('awaiting_channel', 'awaiting_password')).toBe(false);
    expect(RecoveryFlow.canMove('awaiting_second_factor', 'awaiting_code')).toBe(false);
    expect(RecoveryFlow.expired).toBe('RESET_EXPIRED');
  });

  it('mobile number: awaiting_code -> completed; superseded when another number is entered', () => {
    expect(PhoneVerificationFlow.initial).toBe('awaiting_code');
    expect(allowedMoves(PhoneVerificationFlow)).toEqual({
      awaiting_code: ['completed', 'superseded'],
      completed: [],
      superseded: [],
    });
    expect(PhoneVerificationFlow.expired).toBe('PHONE_VERIFICATION_EXPIRED');
  });

  it('every flow ends in completed and superseded, which lead nowhere and are not live', () => {
    for (const def of [RegistrationFlow, RecoveryFlow, PhoneVerificationFlow] as FlowDefinition<string, unknown>[]) {
      expect(def.states).toEqual(expect.arrayContaining(['completed', 'superseded']));
      expect([def.isLive('completed'), def.isLive('superseded'), def.isLive(def.initial)]).toEqual([
        false,
        false,
        true,
      ]);
    }
  });
});
