import type { Context } from 'koa';
import { AppError, FormError } from '../../errors.js';
import { z } from 'zod';
import { parseForm, text } from '../../http/form.js';
import { requestMeta } from '../../http/request-meta.js';
import { scriptJson, seeOther } from '../../http/page.js';
import { makeOf } from '../../identity/passkeys/makes.js';
import { listPasskeys } from '../../identity/passkeys/repository.js';
import {
  MAX_NAME_LENGTH,
  registerPasskey,
  registrationOptions,
  removePasskey,
  renameAccountPasskey,
} from '../../identity/passkeys/webauthn.js';
import { signedIn, type SettingsDeps, type SignedIn } from './context.js';
import { confirmPassword, hasFreshReauth, reauthForm } from './reauth.js';
import { done, handleForm, renderAccountPage, type Done } from './render.js';
import type { RequestMeta } from '../../request-meta.js';

export const PASSKEYS_PATH = '/account/security/passkeys';

/** A console session's challenges serve only that account in that session. */
const binding = (current: SignedIn) => `console:${current.account.id}.${current.sessionId}`;

/** The authenticator's answer (JSON, bounded by the body limit) and the name typed. */
const addForm = z.object({ response: text(200_000), name: text(1000) });
/** Rename or remove a passkey, behind the password; the name's own limit is the service's. */
const removeForm = reauthForm.extend({ passkey_id: text(200) });
const renameForm = removeForm.extend({ name: text(1000) });

/** The passkeys listed on the security page: name, make, created, last used (dates: the page's `date` helper). */
export async function passkeyList(deps: SettingsDeps, accountId: string) {
  const rows = await listPasskeys(deps.db, accountId);
  return rows.map((p) => ({
    id: p.id,
    name: p.name,
    make: makeOf(p.aaguid),
    synced: p.backed_up,
    created: p.created_at,
    lastUsed: p.last_used_at ?? undefined,
  }));
}

/**
 * The page that creates a passkey: reached only with the password just confirmed (the security
 * page's form), it carries fresh options for navigator.credentials.create() and a form that
 * sends the authenticator's answer back.
 */
export async function showAddPasskey(ctx: Context, deps: SettingsDeps, error?: AppError | FormError): Promise<void> {
  const current = signedIn(ctx);
  if (!hasFreshReauth(ctx, deps, current)) return seeOther(ctx, '/account/security');
  const options = await registrationOptions(deps.passkeys, current.account, binding(current));
  renderAccountPage(
    ctx,
    deps,
    'account/passkey-add',
    'security',
    {
      options: scriptJson(options),
      name: typeof ctx.query.name === 'string' ? ctx.query.name.slice(0, MAX_NAME_LENGTH) : '',
      maxNameLength: MAX_NAME_LENGTH,
      passkeyScripts: true,
    },
    error,
  );
}

/** "Add a passkey" on the security page: the password, then the page above. */
export async function startAddPasskey(
  ctx: Context,
  deps: SettingsDeps,
  rerender: (error: AppError | FormError) => Promise<void>,
): Promise<void> {
  const current = signedIn(ctx);
  await handleForm(
    ctx,
    async () => {
      await confirmPassword(ctx, deps, current, parseForm(ctx, reauthForm).current_password, 'REAUTH_REQUIRED');
      seeOther(ctx, `${PASSKEYS_PATH}/new`);
    },
    rerender,
  );
}

/** The authenticator's answer: verified against this session's challenge, stored, mailed. */
export async function addPasskey(ctx: Context, deps: SettingsDeps): Promise<void> {
  const current = signedIn(ctx);
  if (!hasFreshReauth(ctx, deps, current)) return seeOther(ctx, '/account/security');
  await handleForm(
    ctx,
    async () => {
      const { response, name } = parseForm(ctx, addForm);
      await registerPasskey(
        deps.passkeys,
        current.account,
        binding(current),
        response,
        name,
        requestMeta(ctx, deps.config),
      );
      done(ctx, '/account/security', 'passkey-added');
    },
    (error) => showAddPasskey(ctx, deps, error),
  );
}

/**
 * Rename or remove one of the account's passkeys: the password again, then the change; a passkey
 * that is not the account's (or is gone) changes nothing and says nothing.
 */
function changePasskey<S extends typeof removeForm>(
  schema: S,
  change: (deps: SettingsDeps, current: SignedIn, fields: z.output<S>, meta: RequestMeta) => Promise<boolean>,
  doneKey: Done,
) {
  return async (
    ctx: Context,
    deps: SettingsDeps,
    rerender: (error: AppError | FormError) => Promise<void>,
  ): Promise<void> => {
    const current = signedIn(ctx);
    await handleForm(
      ctx,
      async () => {
        const fields = parseForm(ctx, schema);
        await confirmPassword(ctx, deps, current, fields.current_password, 'REAUTH_REQUIRED');
        if (await change(deps, current, fields, requestMeta(ctx, deps.config))) {
          return done(ctx, '/account/security', doneKey);
        }
        seeOther(ctx, '/account/security');
      },
      rerender,
    );
  };
}

export const renamePasskeyForm = changePasskey(
  renameForm,
  (deps, current, fields, meta) =>
    renameAccountPasskey(deps.passkeys, current.account.id, fields.passkey_id, fields.name, meta),
  'passkey-renamed',
);

export const removePasskeyForm = changePasskey(
  removeForm,
  (deps, current, fields, meta) => removePasskey(deps.passkeys, current.account, fields.passkey_id, meta),
  'passkey-removed',
);
