import type { z } from 'zod';
import type { Config } from '../../config/schema.js';
import type { FlowKind } from '../../db/schema.js';
import type { ErrorCode } from '../../errors.js';

/**
 * Every flow ends in one of these: `completed` by its last step, `superseded` when its owner
 * starts the same flow again (the newer one is the only live one).
 */
export const END_STATES = ['completed', 'superseded'] as const;
export type EndState = (typeof END_STATES)[number];

export interface FlowSpec<S extends string, C> {
  kind: FlowKind;
  /** Every state; the first is where a flow starts. `completed` and `superseded` are among them. */
  states: readonly [S, ...S[]];
  /**
   * Where each state may go next. The end states go nowhere. Any live state may also end as
   * `superseded` when the owner starts again; that move is the kernel's and is not listed.
   */
  transitions: { readonly [K in S]: readonly S[] };
  /** How long a flow lives from its start (seconds), from the configuration. */
  ttlSeconds: (config: Readonly<Config>) => number;
  /**
   * What the flow remembers between pages, checked whenever it is read. A field `interaction`
   * names the login (OIDC interaction) the user came from, so a restart can keep it.
   */
  context: z.ZodType<C>;
  /** What the user reads when the flow ended under them and they start again. */
  expired: ErrorCode;
}

export interface FlowDefinition<S extends string, C> extends FlowSpec<S, C> {
  initial: S;
  /** Whether the table allows `from` -> `to` (a live state may always become `superseded`). */
  canMove(from: S, to: S): boolean;
  /** Whether a flow in this state can still be used (not ended). */
  isLive(state: S): boolean;
  isState(value: string): value is S;
}

/**
 * A flow's state machine, checked when the module loads: states, allowed moves, lifetime,
 * context. A new flow is this table (state.ts), its steps (service.ts) and its pages (routes.ts),
 * as in Ory Kratos's selfservice/flow/*: the same files for every flow, a State with its allowed
 * moves, an expiry that restarts the flow with a message.
 */
export function defineFlow<const S extends string, C>(spec: FlowSpec<S, C>): FlowDefinition<S, C> {
  const states: readonly string[] = spec.states;
  const problem = (text: string) => new Error(`defineFlow(${spec.kind}): ${text}`);
  for (const end of END_STATES) if (!states.includes(end)) throw problem(`no "${end}" state`);
  for (const state of spec.states) {
    const next: readonly string[] = spec.transitions[state];
    const unknown = next.find((to) => !states.includes(to));
    if (unknown) throw problem(`${state} -> ${unknown}: no such state`);
    if ((END_STATES as readonly string[]).includes(state) && next.length > 0) throw problem(`${state} is an end`);
  }
  const isEnd = (state: string) => (END_STATES as readonly string[]).includes(state);
  return {
    ...spec,
    initial: spec.states[0],
    canMove: (from, to) => spec.transitions[from].includes(to) || (to === 'superseded' && !isEnd(from)),
    isLive: (state) => !isEnd(state),
    isState: (value): value is S => states.includes(value),
  };
}
