import Router from '@koa/router';
import type { Context, Next } from 'koa';
import { formBody } from '../../http/middleware.js';
import { renderPage } from '../../http/page.js';
import { verifyCsrf } from '../../http/csrf.js';
import { finishLogin, logout, requireSignIn, startLogin } from './auth.js';
import type { SettingsDeps } from './context.js';
import {
  saveCommunication,
  saveCompany,
  savePersonal,
  showCommunication,
  showCompany,
  showPersonal,
} from './profile.js';
import { renderAccountPage } from './render.js';
import { requestEmailChange, showEmailRequest } from './email-request.js';
import {
  chooseMfa,
  confirmTotpSetup,
  finishDuoSetup,
  forgetRememberedBrowser,
  newRecoveryCodes,
  recoveryCodesSaved,
  showMfaChoice,
  showSavedRecoveryCodes,
  showTotpSetup,
  turnOff,
} from './mfa.js';
import { addPasskey, removePasskeyForm, renamePasskeyForm, showAddPasskey, startAddPasskey } from './passkeys.js';
import {
  changePassword,
  endOtherSessions,
  endSession,
  reauthenticate,
  revokeApp,
  showPasswordForm,
  showSecurity,
} from './security.js';

/** /account: the profile and security console (PR1-PR7, M1). */
export function settingsRoutes(deps: SettingsDeps): Router {
  const router = new Router({ prefix: '/account' });
  const form = [formBody(deps.config.bodyLimitBytes), verifyCsrf];
  const signedIn = requireSignIn(deps);
  const page = (fn: (ctx: Context, deps: SettingsDeps) => unknown) => async (ctx: Context, _next: Next) => {
    await fn(ctx, deps);
  };

  router.get('/login', (ctx) => startLogin(ctx, deps));
  router.get('/callback', (ctx) => finishLogin(ctx));
  router.get('/logged-out', (ctx) => renderPage(ctx, deps, 'account/logged-out', { title: 'account.loggedOut.title' }));
  router.post('/logout', ...form, page(logout));

  router.get('/', signedIn, (ctx) => renderAccountPage(ctx, deps, 'account/home', 'home'));
  router.get(
    '/personal',
    signedIn,
    page((ctx) => showPersonal(ctx, deps)),
  );
  router.post('/personal', signedIn, ...form, page(savePersonal));
  router.get(
    '/personal/email',
    signedIn,
    page((ctx) => showEmailRequest(ctx, deps)),
  );
  router.post('/personal/email', signedIn, ...form, page(requestEmailChange));
  router.get(
    '/company',
    signedIn,
    page((ctx) => showCompany(ctx, deps)),
  );
  router.post('/company', signedIn, ...form, page(saveCompany));
  router.get('/communication', signedIn, page(showCommunication));
  router.post('/communication', signedIn, ...form, page(saveCommunication));

  router.get(
    '/security',
    signedIn,
    page((ctx) => showSecurity(ctx, deps)),
  );
  router.get(
    '/security/password',
    signedIn,
    page((ctx) => showPasswordForm(ctx, deps)),
  );
  router.post('/security/password', signedIn, ...form, page(changePassword));
  router.get(
    '/security/mfa',
    signedIn,
    page((ctx) => showMfaChoice(ctx, deps)),
  );
  router.post('/security/mfa', signedIn, ...form, page(chooseMfa));
  router.get(
    '/security/mfa/totp',
    signedIn,
    page((ctx) => showTotpSetup(ctx, deps)),
  );
  router.post('/security/mfa/totp', signedIn, ...form, page(confirmTotpSetup));
  router.get('/security/mfa/duo/callback', signedIn, page(finishDuoSetup));
  router.get('/security/mfa/codes', signedIn, page(showSavedRecoveryCodes));
  router.get('/security/mfa/codes/saved', signedIn, page(recoveryCodesSaved));
  router.post(
    '/security/mfa/off',
    signedIn,
    ...form,
    page((ctx) => turnOff(ctx, deps, (error) => showSecurity(ctx, deps, error))),
  );
  router.post(
    '/security/mfa/recovery-codes',
    signedIn,
    ...form,
    page((ctx) => newRecoveryCodes(ctx, deps, (error) => showSecurity(ctx, deps, error))),
  );
  router.post('/security/browsers/forget', signedIn, ...form, page(forgetRememberedBrowser));
  const onSecurityPage = (fn: typeof startAddPasskey) =>
    page((ctx) => fn(ctx, deps, (error) => showSecurity(ctx, deps, error)));
  router.post('/security/passkeys/start', signedIn, ...form, onSecurityPage(startAddPasskey));
  router.get(
    '/security/passkeys/new',
    signedIn,
    page((ctx) => showAddPasskey(ctx, deps)),
  );
  router.post('/security/passkeys', signedIn, ...form, page(addPasskey));
  router.post('/security/passkeys/rename', signedIn, ...form, onSecurityPage(renamePasskeyForm));
  router.post('/security/passkeys/remove', signedIn, ...form, onSecurityPage(removePasskeyForm));
  router.post('/security/reauth', signedIn, ...form, page(reauthenticate));
  router.post('/security/sessions/end', signedIn, ...form, page(endSession));
  router.post('/security/sessions/end-others', signedIn, ...form, page(endOtherSessions));
  router.post('/security/apps/revoke', signedIn, ...form, page(revokeApp));
  return router;
}
