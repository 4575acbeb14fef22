import type { Context } from 'koa';
import type { KoaContextWithOIDC } from 'oidc-provider';
import { isOutage } from '../errors.js';
import { renderPage, type PageDeps } from '../http/page.js';
import type { ProviderPages } from '../oidc/provider.js';

/** The pages oidc-provider shows itself (errors, logout), in Monban's layout and languages; the device flow's are in flows/device. */
export function providerPages(deps: PageDeps): Pick<ProviderPages, 'error' | 'logout' | 'loggedOut'> {
  const koa = (ctx: KoaContextWithOIDC) => ctx as unknown as Context;
  return {
    // OAuth errors shown to a person get a friendly sentence; the code and description stay visible for support.
    // A server_error is ours, not the application's: a store that cannot be reached says "try
    // again later" (UNAVAILABLE, 503), anything else the generic INTERNAL text; both with the
    // request id as the reference for support.
    error(ctx, out, err) {
      const reference = koa(ctx).state.requestId as string | undefined;
      if (out.error === 'server_error') {
        const outage = isOutage(err);
        renderPage(
          koa(ctx),
          deps,
          'pages/error',
          { title: 'errors.title', messageKey: outage ? 'errors.UNAVAILABLE' : 'errors.INTERNAL', reference },
          { status: outage ? 503 : 500 },
        );
        return;
      }
      renderPage(
        koa(ctx),
        deps,
        'pages/error',
        {
          title: 'errors.title',
          messageKey: 'errors.OAUTH',
          oauthError: out.error,
          oauthDescription: out.error_description,
          reference,
        },
        { status: ctx.status >= 400 ? ctx.status : 400 },
      );
    },
    logout(ctx, form) {
      renderPage(koa(ctx), deps, 'interaction/logout', {
        title: 'logout.title',
        form,
        clientName: ctx.oidc.client?.clientName,
      });
    },
    loggedOut(ctx) {
      renderPage(koa(ctx), deps, 'interaction/logged-out', {
        title: 'logout.doneTitle',
        clientName: ctx.oidc.client?.clientName,
      });
    },
  };
}
