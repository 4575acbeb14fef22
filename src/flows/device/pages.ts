import type { Context } from 'koa';
import type { KoaContextWithOIDC } from 'oidc-provider';
import { AppError, isOutage, type ErrorCode } from '../../errors.js';
import { errorMessage, renderPage, type PageDeps } from '../../http/page.js';
import type { ProviderPages } from '../../oidc/provider.js';

type DevicePages = Pick<ProviderPages, 'deviceCodeInput' | 'deviceCodeConfirm' | 'deviceSuccess'>;

/** What oidc-provider's user code form carries: the token of its own CSRF check (session-bound). */
function xsrfOf(form: string): string {
  return /name="xsrf" value="([^"]*)"/.exec(form)?.[1] ?? '';
}

/** Why oidc-provider gave the user code page back (lib/helpers/re_render_errors.js), as our refusal. */
function refusalOf(out: { error: string } | undefined, err: Error | undefined): AppError | undefined {
  if (!err) return undefined;
  if (err instanceof AppError) return err; // the throttle (service.ts)
  const code: ErrorCode | undefined = {
    NoCodeError: 'DEVICE_CODE_REQUIRED' as const,
    NotFoundError: 'DEVICE_CODE_WRONG' as const,
    ExpiredError: 'DEVICE_CODE_WRONG' as const,
    AlreadyUsedError: 'DEVICE_CODE_WRONG' as const,
  }[err.name];
  if (code) return new AppError(code);
  if (out?.error === 'server_error') return new AppError(isOutage(err) ? 'UNAVAILABLE' : 'INTERNAL');
  // The form's xsrf token no longer matches the session's (another tab, an old page).
  return new AppError('DEVICE_FORM_EXPIRED');
}

/**
 * The device flow's pages (RFC 8628 3.3) in Monban's layout and languages, rendered for
 * oidc-provider's features.deviceFlow sources: its routes (/device, /device/:uid) run the flow,
 * and between the code and the success page the user goes through our login and consent pages
 * like any other authorization. The forms post back to oidc-provider with its xsrf token.
 */
export function devicePages(deps: PageDeps): DevicePages {
  const koa = (ctx: KoaContextWithOIDC) => ctx as unknown as Context;
  const action = (ctx: KoaContextWithOIDC) => ctx.oidc.urlFor('code_verification');
  return {
    deviceCodeInput(ctx, form, out, err) {
      const aborted = err?.name === 'AbortedError';
      const refusal = aborted ? undefined : refusalOf(out, err);
      const typed = (err as { userCode?: unknown } | undefined)?.userCode;
      renderPage(
        koa(ctx),
        deps,
        'device/code',
        {
          title: 'device.title',
          action: action(ctx),
          xsrf: xsrfOf(form),
          userCode: typeof typed === 'string' ? typed : undefined,
          notice: aborted ? 'device.aborted' : undefined,
          ...errorMessage(refusal),
        },
        { status: refusal?.status ?? 200, languagePath: '/device' },
      );
    },
    deviceCodeConfirm(ctx, form, client, userCode) {
      renderPage(
        koa(ctx),
        deps,
        'device/confirm',
        {
          title: 'device.title',
          action: action(ctx),
          xsrf: xsrfOf(form),
          userCode,
          clientName: client.clientName ?? client.clientId,
        },
        // Another language shows the same question again (a GET with the code posts it anew).
        { languagePath: `/device?user_code=${encodeURIComponent(userCode)}` },
      );
    },
    deviceSuccess(ctx) {
      renderPage(koa(ctx), deps, 'device/done', {
        title: 'device.doneTitle',
        clientName: ctx.oidc.client?.clientName ?? ctx.oidc.client?.clientId,
      });
    },
  };
}
