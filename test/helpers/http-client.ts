import { type Agent, request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { CookieJar } from 'tough-cookie';

export interface PageResponse {
  status: number;
  url: string;
  location?: string;
  body: string;
  headers: Headers;
}

/**
 * A browser without a browser: fetch with a cookie jar, manual redirects, and form helpers.
 * For HTTP-level tests and the benchmark; the e2e suite uses real Chromium instead.
 */
export class HttpClient {
  #jar?: CookieJar;

  /** The cookies, as tests read and set them (made on first use: the benchmark's browsers keep theirs apart). */
  get jar(): CookieJar {
    return (this.#jar ??= new CookieJar());
  }

  constructor(readonly headers: Record<string, string> = {}) {}

  async request(
    url: string,
    init: { method?: string; form?: Record<string, string>; headers?: Record<string, string>; body?: string } = {},
  ): Promise<PageResponse> {
    const headers: Record<string, string> = { ...this.headers, ...init.headers };
    const cookie = this.cookieHeader(url);
    if (cookie) headers.cookie = cookie;
    let body = init.body;
    if (init.form) {
      body = new URLSearchParams(init.form).toString();
      headers['content-type'] = 'application/x-www-form-urlencoded';
    }
    const res = await this.send(url, init.method ?? (body ? 'POST' : 'GET'), headers, body);
    this.storeCookies(res.headers.getSetCookie(), url);
    const location = res.headers.get('location') ?? undefined;
    return {
      status: res.status,
      url,
      ...(location ? { location: new URL(location, url).toString() } : {}),
      body: res.body,
      headers: res.headers,
    };
  }

  /** The Cookie header for `url` (the jar's memory store is synchronous: no promise per lookup). */
  protected cookieHeader(url: string): string {
    return this.jar.getCookieStringSync(url);
  }

  /** Keeps what a response's Set-Cookie headers say; a subclass may keep them another way. */
  protected storeCookies(setCookies: readonly string[], url: string): void {
    for (const setCookie of setCookies) this.jar.setCookieSync(setCookie, url);
  }

  /** One HTTP exchange, redirects not followed; a subclass may carry it another way. */
  protected async send(
    url: string,
    method: string,
    headers: Record<string, string>,
    body: string | undefined,
  ): Promise<{ status: number; headers: Headers; body: string }> {
    const res = await fetch(url, { method, headers, body, redirect: 'manual' });
    return { status: res.status, headers: res.headers, body: await res.text() };
  }

  /**
   * Follows redirects until a page answers, or until a URL under `stopAt` (the RP's callback). A
   * `url` already under `stopAt` (a step that answered with the redirect to the RP) is not
   * fetched: it comes back as that redirect.
   */
  async follow(url: string, stopAt?: string, init: Parameters<HttpClient['request']>[1] = {}): Promise<PageResponse> {
    if (stopAt && url.startsWith(stopAt) && !init.form)
      return { status: 303, url, location: url, body: '', headers: new Headers({ location: url }) };
    let res = await this.request(url, init);
    for (let hops = 0; res.location && hops < 10; hops += 1) {
      if (stopAt && res.location.startsWith(stopAt)) return res;
      res = await this.request(res.location);
    }
    return res;
  }
}

/**
 * One HTTP(S) exchange through node:http(s), which (unlike fetch) lets a test name any Host and
 * trust a test certificate (`ca`). Redirects are not followed; repeated headers are kept.
 */
export function nodeExchange(
  url: string,
  method: string,
  headers: Record<string, string>,
  body: string | undefined,
  options: { ca?: string; agent?: Agent } = {},
): Promise<{ status: number; headers: Headers; body: string }> {
  const request = url.startsWith('https:') ? httpsRequest : httpRequest;
  const sent = { ...headers, ...(body === undefined ? {} : { 'content-length': String(Buffer.byteLength(body)) }) };
  const extra = { ...(options.ca ? { ca: options.ca } : {}), ...(options.agent ? { agent: options.agent } : {}) };
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers: sent, ...extra }, (answer) => {
      const chunks: Buffer[] = [];
      answer.on('data', (chunk: Buffer) => chunks.push(chunk));
      answer.on('end', () => {
        const answerHeaders = new Headers();
        for (const [name, value] of Object.entries(answer.headers))
          for (const v of [value ?? []].flat()) answerHeaders.append(name, v);
        resolve({
          status: answer.statusCode ?? 0,
          headers: answerHeaders,
          body: Buffer.concat(chunks).toString('utf8'),
        });
      });
      answer.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** A browser that speaks HTTPS to a server whose (test) certificate it trusts. */
export class TlsClient extends HttpClient {
  constructor(
    readonly ca: string,
    headers: Record<string, string> = {},
  ) {
    super(headers);
  }

  protected override send(url: string, method: string, headers: Record<string, string>, body: string | undefined) {
    return nodeExchange(url, method, headers, body, { ca: this.ca });
  }
}

/** The value of a named input in an HTML form (enough for our own pages). */
export function inputValue(html: string, name: string): string | undefined {
  const tag = html.match(new RegExp(`<input[^>]*name="${name}"[^>]*>`))?.[0];
  return tag
    ?.match(/value="([^"]*)"/)?.[1]
    ?.replace(/&amp;/g, '&')
    .replace(/&quot;/g, '"')
    .replace(/&#x3D;/g, '=');
}

/**
 * The interaction's uid on a login page: from its address (/interaction/<uid>...), or from its
 * forms when the page answered the authorization request itself (the email step does).
 */
export function interactionUid(page: PageResponse): string {
  const uid =
    /^\/interaction\/([^/]+)/.exec(new URL(page.url).pathname)?.[1] ??
    /action="\/interaction\/([^/"?]+)/.exec(page.body)?.[1];
  if (!uid) throw new Error(`not a login page: ${page.url}`);
  return uid;
}

export function formAction(html: string, contains: string): string | undefined {
  return [...html.matchAll(/<form[^>]*action="([^"]*)"/g)].map((m) => m[1]!).find((a) => a.includes(contains));
}

export interface LoginOptions {
  email: string;
  password: string;
  /** Press "Allow" on the consent page when it shows (default true). */
  consent?: boolean;
}

/**
 * Runs the hosted login from an authorization URL: email step, password step, consent.
 * Returns the last response: the redirect to the RP's callback, or the page that stopped it.
 */
export async function loginThroughPages(
  client: HttpClient,
  authorizationUrl: string,
  callbackPrefix: string,
  options: LoginOptions,
): Promise<PageResponse> {
  const origin = new URL(authorizationUrl).origin;
  let page = await client.follow(authorizationUrl, callbackPrefix);
  if (page.location?.startsWith(callbackPrefix)) return page;

  const emailAction = formAction(page.body, '/email');
  if (!emailAction) return page;
  page = await client.follow(new URL(emailAction, origin).toString(), callbackPrefix, {
    form: { _csrf: inputValue(page.body, '_csrf') ?? '', email: options.email },
  });
  const passwordAction = formAction(page.body, '/password');
  if (!passwordAction) return page;
  page = await client.follow(new URL(passwordAction, origin).toString(), callbackPrefix, {
    form: { _csrf: inputValue(page.body, '_csrf') ?? '', password: options.password },
  });
  const confirmAction = formAction(page.body, '/confirm');
  if (confirmAction && options.consent !== false) {
    page = await client.follow(new URL(confirmAction, origin).toString(), callbackPrefix, {
      form: { _csrf: inputValue(page.body, '_csrf') ?? '' },
    });
  }
  return page;
}

/** Undoes Handlebars' HTML escaping (&, <, >, ", ', `, =). */
export function unescapeHtml(text: string): string {
  return text
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#x27;/g, "'")
    .replace(/&#x60;/g, '`')
    .replace(/&#x3D;/g, '=')
    .replace(/&amp;/g, '&');
}

/** The text of the page's error message (the role="alert" paragraph), unescaped; undefined when none. */
export function alertText(html: string): string | undefined {
  const inner = html.match(/<p[^>]*role="alert"[^>]*>([\s\S]*?)<\/p>/)?.[1];
  return inner === undefined ? undefined : unescapeHtml(inner.trim());
}

/** The hidden inputs of the form whose action contains `contains`, as a browser would post them. */
export function hiddenInputs(html: string, contains: string): Record<string, string> {
  const form = [...html.matchAll(/<form[^>]*action="([^"]*)"[^>]*>([\s\S]*?)<\/form>/g)].find((m) =>
    m[1]!.includes(contains),
  );
  const fields: Record<string, string> = {};
  for (const [tag] of form?.[2]?.matchAll(/<input[^>]*>/g) ?? []) {
    if (!/type="hidden"/.test(tag)) continue;
    const name = tag.match(/name="([^"]*)"/)?.[1];
    if (name) fields[name] = unescapeHtml(tag.match(/value="([^"]*)"/)?.[1] ?? '');
  }
  return fields;
}

/**
 * Submits the form on `page` whose action contains `contains` as a browser would: its hidden
 * inputs (CSRF token, language) plus `fields`, which may override them. Does not follow the
 * redirect that answers it.
 */
export async function submitForm(
  client: HttpClient,
  page: PageResponse,
  contains: string,
  fields: Record<string, string>,
): Promise<PageResponse> {
  const action = formAction(page.body, contains);
  if (!action) throw new Error(`no form with an action containing ${contains} on ${page.url}`);
  return client.request(new URL(unescapeHtml(action), page.url).toString(), {
    form: { ...hiddenInputs(page.body, contains), ...fields },
  });
}

/** From an authorization URL to the password page: opens the email page and submits the address. */
export async function openPasswordStep(
  client: HttpClient,
  authorizationUrl: string,
  email: string,
): Promise<PageResponse> {
  const emailPage = await client.follow(authorizationUrl);
  const submitted = await submitForm(client, emailPage, '/email', { email });
  if (!submitted.location) return submitted;
  return client.follow(submitted.location);
}

/** Whatever went wrong, the answer holds no stack trace, error class dump or server path. */
export function expectNoInternals(res: PageResponse): void {
  expect(res.body).not.toMatch(/^\s*at\s+\S.*:\d+:\d+\)?\s*$/m);
  expect(res.body).not.toMatch(/\bat [\w.<>$]+ \(/);
  expect(res.body).not.toMatch(/\w*Error:/);
  expect(res.body).not.toContain('/src/');
  expect(res.body).not.toContain('node_modules');
  expect(res.status).toBeLessThan(500);
}
