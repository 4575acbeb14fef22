import Router from '@koa/router';
import type { Context, Next } from 'koa';
import { formBody } from '../../http/middleware.js';
import { renderPage } from '../../http/page.js';
import { verifyCsrf } from '../../security/csrf.js';
import { finishLogin, logout, requireSignIn, startLogin } from './auth.js';
import type { SettingsDeps } from './context.js';
import { confirmPhone, removePhone, showPhoneForm, showPhoneVerify, startPhoneChange } from './phone.js';
import { saveCommunication, saveCompany, savePersonal, showCommunication, showCompany, showPersonal } from './profile.js';
import { renderAccountPage } from './render.js';
import { chooseMfa, confirmTotpSetup, finishDuoSetup, forgetRememberedBrowser, newRecoveryCodes, showMfaChoice, showTotpSetup, turnOff } from './mfa.js';
import { changePassword, endSession, revokeApp, showPasswordForm, showSecurity } from './security.js';

/** /account: the profile and security console (PR1-PR7, M1). */
export function settingsRoutes(deps: SettingsDeps): Router {
  const router = new Router({ prefix: '/account' });
  const form = [formBody(deps.config.bodyLimitBytes), verifyCsrf];
  const signedIn = requireSignIn(deps);
  const page = (fn: (ctx: Context, deps: SettingsDeps) => unknown) => async (ctx: Context, _next: Next) => { await fn(ctx, deps); };

  router.get('/login', (ctx) => startLogin(ctx, deps));
  router.get('/callback', (ctx) => finishLogin(ctx));
  router.get('/logged-out', (ctx) => renderPage(ctx, deps, 'account/logged-out', { title: 'account.loggedOut.title' }));
  router.post('/logout', ...form, page(logout));

  router.get('/', signedIn, (ctx) => renderAccountPage(ctx, deps, 'account/home', 'home'));
  router.get('/personal', signedIn, page((ctx) => showPersonal(ctx, deps)));
  router.post('/personal', signedIn, ...form, page(savePersonal));
  router.get('/company', signedIn, page((ctx) => showCompany(ctx, deps)));
  router.post('/company', signedIn, ...form, page(saveCompany));
  router.get('/communication', signedIn, page(showCommunication));
  router.post('/communication', signedIn, ...form, page(saveCommunication));

  router.get('/security', signedIn, page((ctx) => showSecurity(ctx, deps)));
  router.get('/security/password', signedIn, page((ctx) => showPasswordForm(ctx, deps)));
  router.post('/security/password', signedIn, ...form, page(changePassword));
  router.get('/security/phone', signedIn, page((ctx) => showPhoneForm(ctx, deps)));
  router.post('/security/phone', signedIn, ...form, page(startPhoneChange));
  router.get('/security/phone/verify', signedIn, page((ctx) => showPhoneVerify(ctx, deps)));
  router.post('/security/phone/verify', signedIn, ...form, page(confirmPhone));
  router.post('/security/phone/remove', signedIn, ...form, page((ctx) => removePhone(ctx, deps, (error) => showSecurity(ctx, deps, error))));
  router.get('/security/mfa', signedIn, page((ctx) => showMfaChoice(ctx, deps)));
  router.post('/security/mfa', signedIn, ...form, page(chooseMfa));
  router.get('/security/mfa/totp', signedIn, page((ctx) => showTotpSetup(ctx, deps)));
  router.post('/security/mfa/totp', signedIn, ...form, page(confirmTotpSetup));
  router.get('/security/mfa/duo/callback', signedIn, page(finishDuoSetup));
  router.post('/security/mfa/off', signedIn, ...form, page((ctx) => turnOff(ctx, deps, (error) => showSecurity(ctx, deps, error))));
  router.post('/security/mfa/recovery-codes', signedIn, ...form, page((ctx) => newRecoveryCodes(ctx, deps, (error) => showSecurity(ctx, deps, error))));
  router.post('/security/browsers/forget', signedIn, ...form, page(forgetRememberedBrowser));
  router.post('/security/sessions/end', signedIn, ...form, page(endSession));
  router.post('/security/apps/revoke', signedIn, ...form, page(revokeApp));
  return router;
}
