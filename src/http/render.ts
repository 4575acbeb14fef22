import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import Handlebars from 'handlebars';
import type { Context } from 'koa';
import type { Translator } from './i18n.js';
import { withParams } from './url.js';

export type Template = Handlebars.TemplateDelegate;

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    return statSync(full).isDirectory() ? walk(full) : [full];
  });
}

/**
 * Compiles every view under views/ once at start. Pages render inside layouts/main; partials
 * come from views/partials. `{{t "key" name=value}}` translates in the page's language.
 */
export class Views {
  readonly #hbs = Handlebars.create();
  readonly #pages = new Map<string, Template>();

  constructor(viewsDir: string) {
    this.#hbs.registerHelper('t', function (this: unknown, key: string, options: Handlebars.HelperOptions) {
      const root = options.data.root as { i18n: Translator };
      return root.i18n.t(key, options.hash as Record<string, unknown>);
    });
    this.#hbs.registerHelper('eq', (a: unknown, b: unknown) => a === b);
    this.#hbs.registerHelper('concat', (...parts: unknown[]) => parts.slice(0, -1).join(''));
    // {{link "/path" interaction=uid}}: an in-flow link with its parameters and the language the
    // user picked in the globe menu (an RP's ui_locales would otherwise win on the next page).
    this.#hbs.registerHelper('link', function (this: unknown, href: string, options: Handlebars.HelperOptions) {
      const root = options.data.root as { pickedLang?: string };
      const params = Object.entries(options.hash as Record<string, unknown>)
        .map(([name, value]) => [name, typeof value === 'string' ? value : undefined] as const);
      return withParams(href, { ...Object.fromEntries(params), lang: root.pickedLang });
    });
    for (const file of walk(viewsDir).filter((f) => f.endsWith('.hbs'))) {
      const name = path.relative(viewsDir, file).replace(/\\/g, '/').replace(/\.hbs$/, '');
      const source = readFileSync(file, 'utf8');
      // Mail subjects and plain-text bodies are not HTML: they are not HTML-escaped.
      const plain = /\/(subject|text)$/.test(name);
      if (name.startsWith('partials/')) this.#hbs.registerPartial(name.slice('partials/'.length), source);
      else this.#pages.set(name, this.#hbs.compile(source, { strict: false, noEscape: plain }));
    }
  }

  #page(name: string): Template {
    const page = this.#pages.get(name);
    if (!page) throw new Error(`no view named ${name}`);
    return page;
  }

  /** Renders a page into a layout. Values are HTML-escaped by Handlebars. */
  html(name: string, data: Record<string, unknown>, layout = 'layouts/main'): string {
    const body = this.#page(name)(data);
    return this.#page(layout)({ ...data, body });
  }

  /** Renders a plain-text template (mail subject or body) on its own. */
  text(name: string, data: Record<string, unknown>): string {
    return this.#page(name)(data);
  }
}

export interface PageData extends Record<string, unknown> {
  i18n: Translator;
  title?: string;
}

export function sendHtml(ctx: Context, views: Views, name: string, data: PageData, status = 200): void {
  ctx.status = status;
  ctx.type = 'html';
  ctx.set('cache-control', 'no-store');
  ctx.body = views.html(name, data);
}
