import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import type { Config } from '../../config/schema.js';
import type { Db } from '../../db/database.js';
import type { FlowKind, FlowRow } from '../../db/schema.js';
import type { FlowDefinition } from './define.js';
import { FlowExpired } from './flow-expired.js';

/**
 * The record behind every self-service flow: who it is for, where it stands, its one-time code
 * (as an HMAC, see codes.ts) and when it expires. Kept in PostgreSQL so it is written in the same
 * transaction as the account change and the mail it causes.
 */
export interface FlowRecord<S extends string, C> {
  id: string;
  kind: FlowKind;
  state: S;
  accountId: string | null;
  /** The address the flow is for (typed by the user, or the account's). */
  email: string;
  context: C;
  expiresAt: Date;
}

/** A stored flow as it is now: `live` is false once it expired or ended. */
export interface FoundFlow<S extends string, C> {
  flow: FlowRecord<S, C>;
  live: boolean;
}

type AnyFlow = FlowDefinition<string, unknown>;
type StateOf<D> = D extends FlowDefinition<infer S, unknown> ? S : never;
type ContextOf<D> = D extends FlowDefinition<string, infer C> ? C : never;
export type FlowOf<D> = FlowRecord<StateOf<D>, ContextOf<D>>;

/**
 * Who a flow belongs to: starting again supersedes the owner's older flows of the kind. An address
 * or account, or only the flow this browser held (`browserFlow`, from its signed flow cookie) when
 * anyone may start the flow for an address and must not end the owner's (the password reset).
 */
export type FlowOwner = { email: string } | { accountId: string } | { browserFlow: string | undefined };

function recordOf<D extends AnyFlow>(def: D, row: FlowRow & { email: string }): FoundFlow<StateOf<D>, ContextOf<D>> {
  const context = def.context.safeParse(row.context);
  // A state or context this code does not know (an older release wrote it) cannot go on.
  const known = def.isState(row.state) && context.success;
  const flow = {
    id: row.id,
    kind: row.kind,
    state: row.state,
    accountId: row.account_id,
    email: row.email,
    context: context.success ? context.data : row.context,
    expiresAt: row.expires_at,
  } as FlowOf<D>;
  return { flow, live: known && def.isLive(row.state) && row.expires_at.getTime() > Date.now() };
}

/** A stored flow of this kind, live or not (expiry is not hidden); undefined when there is none. */
export async function findFlow<D extends AnyFlow>(
  db: Db,
  def: D,
  id: string,
): Promise<FoundFlow<StateOf<D>, ContextOf<D>> | undefined> {
  const row = await db
    .selectFrom('flows')
    .selectAll()
    .where('id', '=', id)
    .where('kind', '=', def.kind)
    .where('email', 'is not', null)
    .$narrowType<{ email: string }>()
    .executeTakeFirst();
  return row && recordOf(def, row);
}

/** The live flow `id` names, or FlowExpired (with the login it came from) when there is none. */
export async function loadFlow<D extends AnyFlow>(db: Db, def: D, id: string | undefined): Promise<FlowOf<D>> {
  const found = id ? await findFlow(db, def, id) : undefined;
  if (!found?.live) throw found ? FlowExpired.of(found.flow) : new FlowExpired(def.kind);
  return found.flow;
}

/**
 * A step's guard: the flow must stand where the step starts. Pages check this first
 * (requireState, which sends the browser to the right page); a flow that moved on in between
 * (a double submit, another tab) cannot take the step again, and ends for this request.
 */
export function expectState<D extends AnyFlow>(flow: FlowOf<D>, ...states: StateOf<D>[]): void {
  if (!states.includes(flow.state)) throw FlowExpired.of(flow);
}

/** Ends the owner's live flows of this kind (state superseded, code cleared). */
export async function supersedeFlows(trx: Db, def: AnyFlow, owner: FlowOwner): Promise<void> {
  if ('browserFlow' in owner && owner.browserFlow === undefined) return;
  await trx
    .updateTable('flows')
    .set({ state: 'superseded', code_hmac: null, updated_at: new Date() })
    .where('kind', '=', def.kind)
    .where((eb) =>
      'email' in owner
        ? eb('email', '=', owner.email)
        : 'accountId' in owner
          ? eb('account_id', '=', owner.accountId)
          : eb('id', '=', owner.browserFlow ?? ''),
    )
    .where('state', 'not in', ['completed', 'superseded'])
    .execute();
}

export interface NewFlow<C> {
  accountId: string | null;
  email: string;
  context: C;
  /** Whose older flows of the kind this one replaces. */
  owner: FlowOwner;
}

/** Starts a flow in its first state; the owner's older live flows of the kind end (superseded). */
export async function startFlow<D extends AnyFlow>(
  trx: Db,
  def: D,
  config: Readonly<Config>,
  start: NewFlow<ContextOf<D>>,
): Promise<FlowOf<D>> {
  await supersedeFlows(trx, def, start.owner);
  const id = randomBytes(18).toString('base64url');
  const expiresAt = new Date(Date.now() + def.ttlSeconds(config) * 1000);
  await trx
    .insertInto('flows')
    .values({
      id,
      kind: def.kind,
      state: def.initial,
      account_id: start.accountId,
      email: start.email,
      context: JSON.stringify(def.context.parse(start.context)),
      expires_at: expiresAt,
      updated_at: new Date(),
    })
    .execute();
  return {
    id,
    kind: def.kind,
    state: def.initial,
    accountId: start.accountId,
    email: start.email,
    context: start.context,
    expiresAt,
  } as FlowOf<D>;
}

/**
 * Moves a flow from the state it was read in to `to`, atomically: only if it is still there and
 * live, so of two parallel submits one moves it and the other gets FlowExpired. The code is
 * cleared (a new step needs a new code). A move the table does not allow is a programming error.
 */
export async function moveFlow<D extends AnyFlow>(
  trx: Db,
  def: D,
  flow: FlowOf<D>,
  to: StateOf<D>,
  changes: { context?: ContextOf<D> } = {},
): Promise<FlowOf<D>> {
  if (!def.canMove(flow.state, to)) throw new Error(`${def.kind}: no move from ${flow.state} to ${to}`);
  const context = changes.context === undefined ? undefined : def.context.parse(changes.context);
  const result = await trx
    .updateTable('flows')
    .set({
      state: to,
      code_hmac: null,
      updated_at: new Date(),
      ...(context === undefined ? {} : { context: JSON.stringify(context) }),
    })
    .where('id', '=', flow.id)
    .where('state', '=', flow.state)
    .where('expires_at', '>', sql<Date>`now()`)
    .executeTakeFirst();
  if (Number(result.numUpdatedRows) === 0) throw FlowExpired.of(flow);
  return { ...flow, state: to, context: context ?? flow.context } as FlowOf<D>;
}

/** Expired flows stop working at once (loadFlow); a day later this reclaims their rows. */
export async function sweepExpiredFlows(db: Db): Promise<void> {
  await db
    .deleteFrom('flows')
    .where('expires_at', '<', sql<Date>`now() - interval '1 day'`)
    .execute();
}
