import type { Context } from 'koa';
import { AppError } from '../errors.js';
import { renderPage, type PageDeps } from '../http/page.js';

const CLOSED = new Set([
  'INVITATION_NOT_FOUND',
  'INVITATION_EXPIRED',
  'INVITATION_REVOKED',
  'INVITATION_USED',
  'INVITATION_OTHER_ACCOUNT',
]);

/** Why an invitation link cannot be used (unknown, expired, revoked, used, another account's). */
export const isClosedInvitation = (err: unknown): err is AppError => err instanceof AppError && CLOSED.has(err.code);

/** C4: the clear page of a link that no longer works, with what to do instead. */
export function renderInvitationClosed(ctx: Context, deps: PageDeps, err: AppError): void {
  renderPage(
    ctx,
    deps,
    'signup/invitation-closed',
    { title: 'invitation.closedTitle', reason: `errors.${err.code}`, code: err.code },
    { status: err.status },
  );
}
