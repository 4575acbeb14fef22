import { readFileSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { AdminInputError, inputFromRegistration, subjectType } from '../clients.js';
import { companyCreateFlags, memberFlags, roleOf } from '../company-flags.js';
import { AdminApiRefusal, allItems, type AdminBackend } from './backend.js';

/** Where a command prints: one answer at the end, or (audit tail --follow) a stream of rows. */
export interface Printer {
  /** Rows as they come (a table row or one JSON line each). */
  rows(items: Record<string, unknown>[]): void;
}

export interface Command {
  /** The lines of `npm run admin -- help` for this command. */
  usage: string;
  /** The columns a terminal's table shows for a list (every field otherwise). */
  columns?: string[];
  run(api: AdminBackend, args: string[], print: Printer, stop: AbortSignal): Promise<unknown>;
}

function flags<O extends NonNullable<ParseArgsConfig['options']>>(args: string[], options: O) {
  const parsed = parseArgs({ args, options, strict: true, allowPositionals: true });
  if (parsed.positionals.length) throw new AdminInputError(`unexpected argument: ${parsed.positionals[0]}`);
  return parsed;
}

/** A command's one positional argument (an id), URL-encoded, and its flags. */
function withId<O extends NonNullable<ParseArgsConfig['options']>>(args: string[], usage: string, options: O) {
  const parsed = parseArgs({ args, options, strict: true, allowPositionals: true });
  const [id, extra] = parsed.positionals;
  if (!id || extra !== undefined) throw new AdminInputError(`usage: ${usage}`);
  return { id: encodeURIComponent(id), values: parsed.values };
}

/** A 404 from the API, worded for the CLI. */
async function orNotFound<T>(work: Promise<T>, message: string): Promise<T> {
  try {
    return await work;
  } catch (err) {
    if (err instanceof AdminApiRefusal && err.status === 404) throw new AdminInputError(message);
    throw err;
  }
}

async function userByEmail(api: AdminBackend, email: string | undefined): Promise<{ id: string; email: string }> {
  if (!email) throw new AdminInputError('needs --email');
  const lower = email.trim().toLowerCase();
  const found = (
    await allItems<{ id: string; email: string }>(api, `/users?email_prefix=${encodeURIComponent(lower)}`)
  ).find((u) => u.email === lower);
  if (!found) throw new AdminInputError(`no account with the email address ${email}`);
  return found;
}

/** --jwks-file: a JSON Web Key Set ({"keys": [...]}) of public keys, from a file. */
function jwksFromFile(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new AdminInputError(`cannot read ${path}`);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new AdminInputError(`${path} is not JSON (a JWK Set: {"keys": [...]})`);
  }
}

const CLIENT_COLUMNS = [
  'client_id',
  'client_name',
  'token_endpoint_auth_method',
  'grant_types',
  'redirect_uris',
  'post_logout_redirect_uris',
  'admin',
];
const USER_COLUMNS = ['id', 'email', 'given_name', 'family_name', 'status', 'locked', 'mfa_enabled'];
const AUDIT_COLUMNS = ['id', 'at', 'type', 'actor', 'account', 'ip', 'data'];

/** user disable|enable|hold|release take a reason for the audit log; the rest act on the address alone. */
function userAction(action: string, summary: string, withReason: boolean): Command {
  return {
    usage: `user ${action} --email E${withReason ? ' [--reason TEXT]' : ''}\n      ${summary}`,
    run: async (api, args) => {
      const { values } = flags(args, {
        email: { type: 'string' },
        ...(withReason ? { reason: { type: 'string' as const } } : {}),
      });
      const user = await userByEmail(api, values.email);
      const reason = values.reason as string | undefined;
      return api.call('POST', `/users/${user.id}/${action}`, reason ? { reason } : undefined);
    },
  };
}

const POLL_MS = 1000;

/** Every CLI command, once; main picks the back end (a running server's API, or the database). */
export const COMMANDS: Record<string, Command> = {
  'client create': {
    usage:
      'client create --name NAME --redirect-uri URI [--redirect-uri URI2] [--post-logout-redirect-uri URI]\n' +
      '      [--public] [--grant client_credentials | --grant urn:ietf:params:oauth:grant-type:device_code]\n' +
      '      [--backchannel-logout-uri URI] [--require-par] [--require-dpop] [--admin]\n' +
      '      [--subject-type public|pairwise] [--sector-identifier-uri URI]\n' +
      '      [--jwks-file FILE | --jwks-uri URI] [--require-signed-request-object]\n' +
      '      --grant urn:ietf:params:oauth:grant-type:device_code: the device flow (RFC 8628; a CLI: with --public)\n' +
      '      --backchannel-logout-uri: where logout tokens go (Back-Channel Logout 1.0)\n' +
      '      --require-par: authorization requests only through PAR (RFC 9126)\n' +
      '      --require-dpop: access tokens only DPoP-bound (RFC 9449)\n' +
      '      --subject-type pairwise: the client gets its own sub for each user (OIDC Core 8.1)\n' +
      '      --sector-identifier-uri: https URI listing the redirect URIs, needed when they span several hosts\n' +
      "      --jwks-file, --jwks-uri: the client's public keys (a JWK Set file, or its https address)\n" +
      '      --require-signed-request-object: authorization requests only as signed request objects (RFC 9101)\n' +
      '      --admin: an admin client (with --grant client_credentials only), may call the admin API',
    columns: CLIENT_COLUMNS,
    run: (api, args) => {
      const { values } = flags(args, {
        name: { type: 'string' },
        'redirect-uri': { type: 'string', multiple: true },
        'post-logout-redirect-uri': { type: 'string', multiple: true },
        'backchannel-logout-uri': { type: 'string' },
        public: { type: 'boolean' },
        grant: { type: 'string', multiple: true },
        'require-par': { type: 'boolean' },
        'require-dpop': { type: 'boolean' },
        'subject-type': { type: 'string' },
        'sector-identifier-uri': { type: 'string' },
        'jwks-file': { type: 'string' },
        'jwks-uri': { type: 'string' },
        'require-signed-request-object': { type: 'boolean' },
        admin: { type: 'boolean' },
      });
      const input = inputFromRegistration({
        subjectType: values['subject-type'],
        sectorIdentifierUri: values['sector-identifier-uri'],
        name: values.name ?? '',
        redirectUris: values['redirect-uri'] ?? [],
        postLogoutRedirectUris: values['post-logout-redirect-uri'] ?? [],
        backchannelLogoutUri: values['backchannel-logout-uri'],
        isPublic: values.public ?? false,
        extraGrants: values.grant ?? [],
        admin: values.admin ?? false,
      });
      return api.call('POST', '/clients', {
        ...input,
        ...(values['require-par'] ? { require_pushed_authorization_requests: true } : {}),
        ...(values['require-dpop'] ? { dpop_bound_access_tokens: true } : {}),
        ...(values['jwks-file'] !== undefined ? { jwks: jwksFromFile(values['jwks-file']) } : {}),
        ...(values['jwks-uri'] !== undefined ? { jwks_uri: values['jwks-uri'] } : {}),
        ...(values['require-signed-request-object'] ? { require_signed_request_object: true } : {}),
      });
    },
  },
  'client list': {
    usage: 'client list',
    columns: CLIENT_COLUMNS,
    run: (api, args) => {
      flags(args, {});
      return allItems(api, '/clients');
    },
  },
  'client update': {
    usage:
      'client update CLIENT_ID [--name NAME] [--redirect-uri URI ...] [--post-logout-redirect-uri URI ...]\n' +
      '      [--no-post-logout-redirect-uri] [--grant G ...] [--admin | --no-admin]\n' +
      '      [--require-par | --no-require-par] [--require-dpop | --no-require-dpop]\n' +
      '      [--subject-type public|pairwise] [--sector-identifier-uri URI | --no-sector-identifier-uri]\n' +
      '      [--jwks-file FILE | --jwks-uri URI | --no-jwks]\n' +
      '      [--require-signed-request-object | --no-require-signed-request-object]\n' +
      "      PATCH /clients/{id}: a list given replaces the client's list; what is not given stays",
    columns: CLIENT_COLUMNS,
    run: (api, args) => {
      const { id, values } = withId(args, 'client update CLIENT_ID [flags]', {
        name: { type: 'string' },
        'redirect-uri': { type: 'string', multiple: true },
        'post-logout-redirect-uri': { type: 'string', multiple: true },
        'no-post-logout-redirect-uri': { type: 'boolean' },
        grant: { type: 'string', multiple: true },
        admin: { type: 'boolean' },
        'no-admin': { type: 'boolean' },
        'require-par': { type: 'boolean' },
        'no-require-par': { type: 'boolean' },
        'require-dpop': { type: 'boolean' },
        'no-require-dpop': { type: 'boolean' },
        'subject-type': { type: 'string' },
        'sector-identifier-uri': { type: 'string' },
        'no-sector-identifier-uri': { type: 'boolean' },
        'jwks-file': { type: 'string' },
        'jwks-uri': { type: 'string' },
        'no-jwks': { type: 'boolean' },
        'require-signed-request-object': { type: 'boolean' },
        'no-require-signed-request-object': { type: 'boolean' },
      });
      /** --x sets true, --no-x false, neither leaves it; both is a mistake. */
      const onOff = (name: string, on: boolean | undefined, off: boolean | undefined) => {
        if (on && off) throw new AdminInputError(`--${name} or --no-${name}, not both`);
        return on ? true : off ? false : undefined;
      };
      const admin = onOff('admin', values.admin, values['no-admin']);
      const requirePar = onOff('require-par', values['require-par'], values['no-require-par']);
      const requireDpop = onOff('require-dpop', values['require-dpop'], values['no-require-dpop']);
      const clearLogout = values['no-post-logout-redirect-uri'] ?? false;
      const requireJar = onOff(
        'require-signed-request-object',
        values['require-signed-request-object'],
        values['no-require-signed-request-object'],
      );
      const keySources = ['jwks-file', 'jwks-uri', 'no-jwks'].filter((name) => values[name as 'no-jwks'] !== undefined);
      if (keySources.length > 1) throw new AdminInputError('one of --jwks-file, --jwks-uri and --no-jwks');
      const sector = values['sector-identifier-uri'];
      if (sector !== undefined && values['no-sector-identifier-uri'])
        throw new AdminInputError('--sector-identifier-uri or --no-sector-identifier-uri, not both');
      const change = {
        ...(values.name !== undefined ? { client_name: values.name } : {}),
        ...(values['redirect-uri'] ? { redirect_uris: values['redirect-uri'] } : {}),
        ...(values['post-logout-redirect-uri'] || clearLogout
          ? { post_logout_redirect_uris: clearLogout ? [] : values['post-logout-redirect-uri'] }
          : {}),
        ...(values.grant ? { grant_types: values.grant } : {}),
        ...(admin !== undefined ? { admin } : {}),
        ...(requirePar !== undefined ? { require_pushed_authorization_requests: requirePar } : {}),
        ...(requireDpop !== undefined ? { dpop_bound_access_tokens: requireDpop } : {}),
        ...(values['subject-type'] !== undefined ? { subject_type: subjectType(values['subject-type']) } : {}),
        ...(sector !== undefined ? { sector_identifier_uri: sector } : {}),
        ...(values['no-sector-identifier-uri'] ? { sector_identifier_uri: null } : {}),
        ...(values['jwks-file'] !== undefined ? { jwks: jwksFromFile(values['jwks-file']) } : {}),
        ...(values['jwks-uri'] !== undefined ? { jwks_uri: values['jwks-uri'] } : {}),
        ...(values['no-jwks'] ? { jwks: null, jwks_uri: null } : {}),
        ...(requireJar !== undefined ? { require_signed_request_object: requireJar } : {}),
      };
      if (Object.keys(change).length === 0) throw new AdminInputError('client update: nothing to change');
      return orNotFound(api.call('PATCH', `/clients/${id}`, change), `no client with id ${decodeURIComponent(id)}`);
    },
  },
  'client delete': {
    usage: 'client delete CLIENT_ID\n      its grants and tokens end with it',
    run: async (api, args) => {
      const { id } = withId(args, 'client delete CLIENT_ID', {});
      await orNotFound(api.call('DELETE', `/clients/${id}`), `no client with id ${decodeURIComponent(id)}`);
      return { deleted: decodeURIComponent(id) };
    },
  },
  'client rotate-secret': {
    usage: 'client rotate-secret CLIENT_ID\n      a new secret, shown once; the old one stops working at once',
    run: (api, args) => {
      const { id } = withId(args, 'client rotate-secret CLIENT_ID', {});
      return orNotFound(api.call('POST', `/clients/${id}/secret`), `no client with id ${decodeURIComponent(id)}`);
    },
  },
  'user create': {
    usage:
      'user create --email E --password P --given-name G --family-name F [--locale ja|en] [--pending]\n' +
      '      an active account with a verified address (--pending: its owner activates it)',
    columns: USER_COLUMNS,
    run: (api, args) => {
      const { values } = flags(args, {
        email: { type: 'string' },
        password: { type: 'string' },
        'given-name': { type: 'string' },
        'family-name': { type: 'string' },
        locale: { type: 'string' },
        pending: { type: 'boolean' },
      });
      if (!values.email || !values.password) throw new AdminInputError('user create needs --email and --password');
      return api.call('POST', '/users', {
        email: values.email,
        password: values.password,
        given_name: values['given-name'] ?? '',
        family_name: values['family-name'] ?? '',
        ...(values.locale ? { locale: values.locale } : {}),
        ...(values.pending ? { status: 'pending' } : {}),
      });
    },
  },
  'user search': {
    usage: 'user search [--email-prefix P] [--status pending|active|on_hold|disabled] [--company C]',
    columns: USER_COLUMNS,
    run: (api, args) => {
      const { values } = flags(args, {
        'email-prefix': { type: 'string' },
        status: { type: 'string' },
        company: { type: 'string' },
      });
      const query = new URLSearchParams();
      if (values['email-prefix']) query.set('email_prefix', values['email-prefix']);
      if (values.status) query.set('status', values.status);
      if (values.company) query.set('company', values.company);
      return allItems(api, `/users?${query.toString()}`);
    },
  },
  'user disable': userAction('disable', 'it cannot log in; its sessions and apps’ tokens end at once', true),
  'user enable': userAction('enable', 'a disabled account can log in again', true),
  'user hold': userAction('hold', 'put on hold (held accounts are told so in general terms at login)', true),
  'user release': userAction('release', 'a held account can log in again', true),
  'user unlock': userAction('unlock', 'unlock an account locked after too many wrong passwords', false),
  'user reset-mfa': userAction(
    'reset-mfa',
    'remove the second factor (lost phone); audited, the owner is mailed',
    false,
  ),
  'user revoke-sessions': userAction('revoke-sessions', "end every session and every app's tokens", false),
  'user update': {
    usage:
      'user update --email E [--given-name G] [--family-name F] [--locale ja|en] [--zoneinfo TZ] [--phone +81...]\n' +
      '      change profile fields (an empty --zoneinfo or --phone clears it; a new number is unverified)',
    columns: USER_COLUMNS,
    run: async (api, args) => {
      const { values } = flags(args, {
        email: { type: 'string' },
        'given-name': { type: 'string' },
        'family-name': { type: 'string' },
        locale: { type: 'string' },
        zoneinfo: { type: 'string' },
        phone: { type: 'string' },
      });
      const { email, 'given-name': givenName, 'family-name': familyName, locale, zoneinfo, phone } = values;
      const body = {
        ...(givenName !== undefined ? { given_name: givenName } : {}),
        ...(familyName !== undefined ? { family_name: familyName } : {}),
        ...(locale !== undefined ? { locale } : {}),
        ...(zoneinfo !== undefined ? { zoneinfo: zoneinfo || null } : {}),
        ...(phone !== undefined ? { phone_number: phone || null } : {}),
      };
      if (Object.keys(body).length === 0) throw new AdminInputError('user update needs a field to change');
      const user = await userByEmail(api, email);
      return api.call('PATCH', `/users/${user.id}`, body);
    },
  },
  'user require-phishing-resistant': {
    usage:
      'user require-phishing-resistant --email E [--off]\n' +
      '      company policy: the account logs in only with a passkey or security key\n' +
      '      (--off lifts it, e.g. so its owner can log in once and add one)',
    columns: USER_COLUMNS,
    run: async (api, args) => {
      const { values } = flags(args, { email: { type: 'string' }, off: { type: 'boolean' } });
      const user = await userByEmail(api, values.email);
      return api.call('PATCH', `/users/${user.id}`, { require_phishing_resistant: !values.off });
    },
  },
  'keys rotate': {
    usage: 'keys rotate\n      promote the staged signing key, retire the active one, stage a new one',
    run: (api, args) => {
      flags(args, {});
      return api.call('POST', '/keys/rotate');
    },
  },
  'company create': {
    usage: 'company create --name-ja N --name-latin N [--corporate-number 13DIGITS] [--domain D]... [--admin EMAIL]...',
    run: (api, args) => {
      const { values } = flags(args, companyCreateFlags);
      return api.call('POST', '/companies', {
        name_ja: values['name-ja'] ?? '',
        name_latin: values['name-latin'] ?? '',
        ...(values['corporate-number'] ? { corporate_number: values['corporate-number'] } : {}),
        ...(values.domain ? { domains: values.domain } : {}),
        ...(values.admin ? { admins: values.admin } : {}),
      });
    },
  },
  'company list': {
    usage: 'company list',
    run: (api, args) => {
      flags(args, {});
      return allItems(api, '/companies');
    },
  },
  'company show': {
    usage: 'company show COMPANY_ID',
    run: (api, args) => api.call('GET', `/companies/${withId(args, 'company show COMPANY_ID', {}).id}`),
  },
  'company add-domain': {
    usage:
      'company add-domain COMPANY_ID --domain D\n      prints the TXT record monban-verification=<token> to publish',
    run: (api, args) => {
      const { id, values } = withId(args, 'company add-domain COMPANY_ID --domain D', { domain: { type: 'string' } });
      return api.call('POST', `/companies/${id}/domains`, { domain: values.domain ?? '' });
    },
  },
  'company verify-domain': {
    usage: 'company verify-domain COMPANY_ID --domain D\n      looks the TXT record up: found, the domain counts',
    run: (api, args) => {
      const { id, values } = withId(args, 'company verify-domain COMPANY_ID --domain D', {
        domain: { type: 'string' },
      });
      return api.call('POST', `/companies/${id}/domains/${encodeURIComponent(values.domain ?? '')}/verify`);
    },
  },
  'company set-member': {
    usage: 'company set-member COMPANY_ID --email E [--role member|admin]',
    run: (api, args) => {
      const { id, values } = withId(args, 'company set-member COMPANY_ID --email E', memberFlags);
      return api.call('POST', `/companies/${id}/members`, { account: values.email ?? '', role: roleOf(values.role) });
    },
  },
  'company remove-member': {
    usage: 'company remove-member COMPANY_ID --email E',
    run: async (api, args) => {
      const { id, values } = withId(args, 'company remove-member COMPANY_ID --email E', memberFlags);
      const user = await userByEmail(api, values.email);
      await api.call('DELETE', `/companies/${id}/members/${user.id}`);
      return { removed: user.id };
    },
  },
  'company change-email': {
    usage:
      'company change-email COMPANY_ID --email E --new-email N\n' +
      '      holds the member until they enter the code mailed to N (both addresses in verified domains)',
    run: async (api, args) => {
      const { id, values } = withId(args, 'company change-email COMPANY_ID --email E --new-email N', {
        email: { type: 'string' },
        'new-email': { type: 'string' },
      });
      const user = await userByEmail(api, values.email);
      return api.call('POST', `/companies/${id}/members/${user.id}/email-change`, {
        email: values['new-email'] ?? '',
      });
    },
  },
  'company rename': {
    usage:
      'company rename COMPANY_ID --from OLD_DOMAIN --to NEW_DOMAIN\n' +
      '      every member at OLD_DOMAIN gets the same name at NEW_DOMAIN (both verified), each held until their code',
    run: (api, args) => {
      const usage = 'company rename COMPANY_ID --from OLD_DOMAIN --to NEW_DOMAIN';
      const { id, values } = withId(args, usage, { from: { type: 'string' }, to: { type: 'string' } });
      if (!values.from || !values.to) throw new AdminInputError(`usage: ${usage}`);
      return api.call('POST', `/companies/${id}/renames`, { from_domain: values.from, to_domain: values.to });
    },
  },
  'company renames': {
    usage: 'company renames COMPANY_ID\n      the newest renames with their progress (done, skipped, total)',
    columns: ['id', 'from_domain', 'to_domain', 'done', 'skipped', 'total', 'finished', 'created_at'],
    run: async (api, args) =>
      (
        await api.call<{ items: unknown[] }>(
          'GET',
          `/companies/${withId(args, 'company renames COMPANY_ID', {}).id}/renames`,
        )
      ).items,
  },
  'company resend-email-change': {
    usage: 'company resend-email-change COMPANY_ID --email E\n      mails a new code to the new address',
    run: async (api, args) => {
      const { id, values } = withId(args, 'company resend-email-change COMPANY_ID --email E', memberFlags);
      const user = await userByEmail(api, values.email);
      return api.call('POST', `/companies/${id}/members/${user.id}/email-change/resend`);
    },
  },
  'company invite': {
    usage:
      'company invite COMPANY_ID --email E [--email E2]... [--locale ja|en]\n' +
      '      mails each address a link to sign up (or, with an account, to accept) and join as a member',
    run: (api, args) => {
      const usage = 'company invite COMPANY_ID --email E [--email E2]... [--locale ja|en]';
      const { id, values } = withId(args, usage, {
        email: { type: 'string', multiple: true },
        locale: { type: 'string' },
      });
      return api.call('POST', `/companies/${id}/invitations`, {
        emails: values.email ?? [],
        ...(values.locale ? { locale: values.locale } : {}),
      });
    },
  },
  'company invitations': {
    usage: 'company invitations COMPANY_ID\n      the invitations, newest first, with their status',
    run: (api, args) =>
      allItems(api, `/companies/${withId(args, 'company invitations COMPANY_ID', {}).id}/invitations`),
  },
  'case list': {
    usage:
      'case list [--status open|approved|rejected]\n' +
      "      partners' requests for a new email address (M2), oldest first",
    columns: ['id', 'status', 'current_email', 'requested_email', 'reason', 'created_at'],
    run: (api, args) => {
      const { values } = flags(args, { status: { type: 'string' } });
      return allItems(api, `/support-cases${values.status ? `?status=${encodeURIComponent(values.status)}` : ''}`);
    },
  },
  'case approve': {
    usage:
      'case approve CASE_ID\n      the code goes to the requested address; the account is on hold until it is entered',
    run: (api, args) => api.call('POST', `/support-cases/${withId(args, 'case approve CASE_ID', {}).id}/approve`),
  },
  'case reject': {
    usage: 'case reject CASE_ID --message M\n      the address stays; the user is mailed the message',
    run: (api, args) => {
      const { id, values } = withId(args, 'case reject CASE_ID --message M', { message: { type: 'string' } });
      if (!values.message) throw new AdminInputError('needs --message');
      return api.call('POST', `/support-cases/${id}/reject`, { message: values.message });
    },
  },
  'audit tail': {
    usage:
      'audit tail [--limit N] [--type T] [--follow]\n' +
      '      the newest N events (50), oldest first; --follow then prints new ones as they come, until Ctrl-C',
    columns: AUDIT_COLUMNS,
    run: async (api, args, print, stop) => {
      const { values } = flags(args, {
        limit: { type: 'string' },
        type: { type: 'string' },
        follow: { type: 'boolean' },
      });
      const limit = Number(values.limit ?? 50);
      const filter = values.type ? `&type=${encodeURIComponent(values.type)}` : '';
      const newest = await api.call<{ items: { id: number }[] }>(
        'GET',
        `/audit-events?order=desc&limit=${limit}${filter}`,
      );
      const tail = newest.items.reverse();
      if (!values.follow) return tail;
      print.rows(tail);
      // Then the log from the newest seen on: the cursor never skips or repeats an event.
      let after = tail.at(-1)?.id;
      const stopped = () => stop.aborted;
      while (!stopped()) {
        await delay(POLL_MS, undefined, { signal: stop }).catch(() => undefined);
        if (stopped()) break;
        const page = await api.call<{ items: { id: number }[]; next: number | null }>(
          'GET',
          `/audit-events?limit=200${filter}${after !== undefined ? `&after=${after}` : ''}`,
        );
        if (page.items.length) print.rows(page.items);
        after = page.next ?? after;
      }
      return undefined;
    },
  },
};
