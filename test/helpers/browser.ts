import { chromium, type Browser, type BrowserContext, type Page, type Route } from 'playwright-core';

/** The system Chromium (Debian package); tests never download a browser. */
export const CHROMIUM_PATH = process.env.MONBAN_CHROMIUM ?? '/usr/bin/chromium';

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_ARGS });
}

/**
 * Starts the app (or harness) and Chromium side by side. If either fails the other is closed
 * before the error goes up: an app left running would keep Jest from ever exiting.
 */
export async function startWithBrowser<T extends { close(): Promise<void> }>(
  starting: Promise<T>,
): Promise<[T, Browser]> {
  const [app, browser] = await Promise.allSettled([starting, launchBrowser()]);
  if (app.status === 'fulfilled' && browser.status === 'fulfilled') return [app.value, browser.value];
  await Promise.allSettled([
    app.status === 'fulfilled' ? app.value.close() : undefined,
    browser.status === 'fulfilled' ? browser.value.close() : undefined,
  ]);
  throw app.status === 'rejected' ? app.reason : (browser as PromiseRejectedResult).reason;
}

const RP_PAGE =
  '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Test RP</title></head>' +
  '<body><h1>Test RP</h1><p>Back at the relying party.</p></body></html>';

export interface RpBrowserOptions {
  /** The relying party's origin: navigations there are answered by the test, nothing listens on it. */
  rpOrigin: string;
  /** The browser's own language (Accept-Language, navigator.language). */
  locale?: string;
  /** Accept self-signed certificates (a fake service over HTTPS on loopback, such as FakeDuo). */
  ignoreHTTPSErrors?: boolean;
  /** The window's size (a phone: 390 × 844); Playwright's 1280 × 720 otherwise. */
  viewport?: { width: number; height: number };
  /** The browser's own time zone (IANA ID); the machine's otherwise. */
  timezoneId?: string;
}

/**
 * A fresh browser profile (own cookies) for one user journey. Navigations to the relying party
 * are fulfilled with a small page and recorded; anything that is not loopback is refused, so a
 * test can never reach the network.
 */
/**
 * The login's email step answers the authorization request itself, and its password step the
 * email form; each page's script then puts the step's own address, /interaction/<uid> or
 * /interaction/<uid>/password, in the address bar (public/page-address.js).
 */
export async function waitForInteractionAddress(page: Page, step: '' | '/password' = ''): Promise<void> {
  const address = new RegExp(`^/interaction/[^/]+${step}$`);
  await page.waitForURL((url) => address.test(url.pathname));
}

export class RpBrowser {
  /** Every URL the browser was sent to at the relying party, in order. */
  readonly rpVisits: string[] = [];
  /** Uncaught script errors in any page (our only script is the password checklist; there should be none). */
  readonly pageErrors: string[] = [];

  private constructor(
    readonly context: BrowserContext,
    readonly page: Page,
    private readonly rpOrigin: string,
  ) {}

  static async open(browser: Browser, options: RpBrowserOptions): Promise<RpBrowser> {
    const context = await browser.newContext({
      locale: options.locale ?? 'en-US',
      javaScriptEnabled: true,
      ignoreHTTPSErrors: options.ignoreHTTPSErrors ?? false,
      ...(options.viewport ? { viewport: options.viewport } : {}),
      ...(options.timezoneId ? { timezoneId: options.timezoneId } : {}),
    });
    const page = await context.newPage();
    const rp = new RpBrowser(context, page, new URL(options.rpOrigin).origin);
    await context.route('**/*', (route) => rp.handle(route));
    page.on('pageerror', (err) => rp.pageErrors.push(String(err)));
    return rp;
  }

  private async handle(route: Route): Promise<void> {
    const url = new URL(route.request().url());
    if (url.origin === this.rpOrigin) {
      this.rpVisits.push(url.toString());
      await route.fulfill({ status: 200, contentType: 'text/html; charset=utf-8', body: RP_PAGE });
    } else if ((url.protocol === 'http:' || url.protocol === 'https:') && LOOPBACK_HOSTS.has(url.hostname)) {
      await route.continue();
    } else {
      await route.abort('blockedbyclient');
    }
  }

  /** Waits until the page is at the relying party under `prefix` and returns that full URL. */
  async waitForRp(prefix: string, timeout = 15_000): Promise<URL> {
    await this.page.waitForURL((url) => url.href.startsWith(prefix), { timeout, waitUntil: 'load' });
    return new URL(this.page.url());
  }

  /** The page's main heading. */
  async heading(): Promise<string> {
    return (await this.page.locator('main h1').innerText()).trim();
  }

  async htmlLang(): Promise<string | null> {
    return this.page.locator('html').getAttribute('lang');
  }

  async close(): Promise<void> {
    await this.context.close();
  }
}

/** The rules of the password checklist, in page order (views/partials/password-checklist.hbs). */
export type Rule = 'length' | 'lower' | 'upper' | 'digit' | 'symbol' | 'email' | 'match';
export const RULES: readonly Rule[] = ['length', 'lower', 'upper', 'digit', 'symbol', 'email', 'match'];

/** What the tests read of a DOM element (they compile without the DOM library). */
export interface ElementLike {
  getAttribute(name: string): string | null;
  classList: { contains(name: string): boolean };
  textContent: string | null;
}

export interface ChecklistItem {
  rule: string;
  dataMet: string | null;
  classMet: boolean;
  text: string;
}

/**
 * The password checklist as the user sees it: each rule the page ticks, its data-met attribute,
 * its `met` class and text. Rules the server judges on submit (data-checked-by) are not ticked
 * by the page and are left out.
 */
export function readChecklist(page: Page): Promise<ChecklistItem[]> {
  return page.locator('#password-checklist li[data-rule]:not([data-checked-by])').evaluateAll((items: ElementLike[]) =>
    items.map((li) => ({
      rule: li.getAttribute('data-rule') ?? '',
      dataMet: li.getAttribute('data-met'),
      classMet: li.classList.contains('met'),
      text: (li.textContent ?? '').trim(),
    })),
  );
}
