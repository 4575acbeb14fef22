import type { FlowKind } from '../../db/schema.js';
import { AppError } from '../../errors.js';

/**
 * The flow this request belongs to has ended: expired, finished, superseded by a newer one, or
 * unknown to this browser. Every flow's pages answer it the same way (src/flows/flow-pages.ts):
 * the flow's first page again, with its message, still for the login the user came from.
 */
export class FlowExpired extends AppError {
  override name = 'FlowExpired';

  constructor(
    readonly kind: FlowKind,
    /** The OIDC interaction the ended flow came from, if it named one. */
    readonly interaction?: string,
  ) {
    super('FLOW_EXPIRED');
  }

  /** A live flow that cannot go on (what it needs is gone): it ends for the user like an expired one. */
  static of(flow: { kind: FlowKind; context: unknown }): FlowExpired {
    const interaction = (flow.context as { interaction?: unknown } | null)?.interaction;
    return new FlowExpired(flow.kind, typeof interaction === 'string' ? interaction : undefined);
  }
}
