import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import Handlebars from 'handlebars';
import { BoundedMap } from '../bounded-map.js';
import {
  defaultTimeZone,
  formatDate,
  formatDateTime,
  formatPhone,
  loadTimeZoneCities,
  personName,
  type PersonName,
} from './format.js';
import type { Locale, Translator } from './i18n.js';

export type Template = Handlebars.TemplateDelegate;

/** `path?a=1&b=2`, leaving out parameters without a value. */
export function withParams(path: string, params: Record<string, string | undefined>): string {
  const query = new URLSearchParams(Object.entries(params).filter((e): e is [string, string] => Boolean(e[1])));
  return query.size ? `${path}?${query.toString()}` : path;
}

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    return statSync(full).isDirectory() ? walk(full) : [full];
  });
}

/**
 * The handlebars templates of pages (rendered by http/) and of mails and text messages (rendered
 * by the courier). Compiles every view under views/ (and the override folder) once at start. Pages render
 * inside layouts/main; partials come from views/partials. `{{product}}` in a text is the brand's name. `{{t "key" name=value}}` translates in the page's language.
 */
const ATTRIBUTE_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

function escapeAttribute(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ATTRIBUTE_ESCAPES[c] ?? c);
}

/** How many translated texts are kept (each language's static texts are a few hundred). */
const REMEMBERED_TEXTS_MAX = 5000;

/** A text's key with its parameter values; undefined when a value is not a plain string or number. */
function textId(base: string, params: Record<string, unknown>): string | undefined {
  let id = base;
  for (const name of Object.keys(params)) {
    const value = params[name];
    if (value === undefined) continue;
    if (typeof value !== 'string' && typeof value !== 'number') return undefined;
    // JSON: a value holding the separator cannot pass for two parameters.
    id += `\u0000${name}=${JSON.stringify(value)}`;
  }
  return id;
}

export class Views {
  readonly #hbs = Handlebars.create();
  readonly #pages = new Map<string, Template>();

  /** `overrideDir` (VIEWS_OVERRIDE_DIR): views there replace the built-in ones of the same name. */
  constructor(viewsDir: string, overrideDir?: string) {
    loadTimeZoneCities(viewsDir);
    // A page uses dozens of texts; they never change once loaded, so each is looked up in i18next
    // once per language, brand and parameter values (an app's name, a number of minutes). Values
    // that are not plain strings or numbers are not remembered.
    const texts = new BoundedMap<string, string>(REMEMBERED_TEXTS_MAX);
    this.#hbs.registerHelper('t', function (this: unknown, key: string, options: Handlebars.HelperOptions) {
      const { root } = options.data as { root: { i18n: Translator; brand?: { productName: string } } };
      const product = root.brand?.productName;
      const params = options.hash as Record<string, unknown>;
      const translate = () => root.i18n.t(key, { ...(product ? { product } : {}), ...params });
      const id = textId(`${root.i18n.locale}\u0000${product ?? ''}\u0000${key}`, params);
      if (id === undefined) return translate();
      let text = texts.get(id);
      if (text === undefined) {
        text = translate();
        texts.set(id, text);
      }
      return text;
    });
    this.#hbs.registerHelper('eq', (a: unknown, b: unknown) => a === b);
    this.#hbs.registerHelper('concat', (...parts: unknown[]) => parts.slice(0, -1).join(''));
    // {{link "/path" interaction=uid}}: an in-flow link with its parameters and the language the
    // user picked in the globe menu (an RP's ui_locales would otherwise win on the next page).
    this.#hbs.registerHelper('link', function (this: unknown, href: string, options: Handlebars.HelperOptions) {
      const { root } = options.data as { root: { pickedLang?: string } };
      const params = Object.entries(options.hash as Record<string, unknown>).map(
        ([name, value]) => [name, typeof value === 'string' ? value : undefined] as const,
      );
      // Escaped for an attribute by hand: Handlebars' own escaping also turns '=' into '&#x3D;'.
      const url = withParams(href, { ...Object.fromEntries(params), lang: root.pickedLang });
      return new Handlebars.SafeString(escapeAttribute(url));
    });
    // Values written for the reader (src/text/format.ts), in the page's or the mail's language and
    // the reader's time zone: {{personName account}}, {{phone e164}} ({{phone e164 masked=true}}),
    // {{dateTime when}}, {{date when}}.
    const reader = (options: Handlebars.HelperOptions) => {
      const { root } = options.data as { root: { lang?: Locale; timeZone?: string } };
      const lang = root.lang ?? 'en';
      return { lang, timeZone: root.timeZone ?? defaultTimeZone(lang) };
    };
    this.#hbs.registerHelper('personName', (name: PersonName | undefined, options: Handlebars.HelperOptions) =>
      name ? personName(name, reader(options).lang) : '',
    );
    this.#hbs.registerHelper('phone', (e164: unknown, options: Handlebars.HelperOptions) =>
      typeof e164 === 'string' && e164 ? formatPhone(e164, { masked: options.hash.masked === true }) : '',
    );
    this.#hbs.registerHelper('dateTime', (when: Date | string | undefined, options: Handlebars.HelperOptions) => {
      const { lang, timeZone } = reader(options);
      return when ? formatDateTime(when, lang, timeZone) : '';
    });
    this.#hbs.registerHelper('date', (when: Date | string | undefined, options: Handlebars.HelperOptions) => {
      const { lang, timeZone } = reader(options);
      return when ? formatDate(when, lang, timeZone) : '';
    });
    // The override folder's views come second, so one of the same name replaces the built-in one.
    for (const dir of [viewsDir, ...(overrideDir ? [overrideDir] : [])]) {
      for (const file of walk(dir).filter((f) => f.endsWith('.hbs'))) {
        const name = path
          .relative(dir, file)
          .replace(/\\/g, '/')
          .replace(/\.hbs$/, '');
        const source = readFileSync(file, 'utf8');
        // Mail subjects and plain-text bodies are not HTML: they are not HTML-escaped.
        const plain = /\/(subject|text)$/.test(name);
        if (name.startsWith('partials/')) this.#hbs.registerPartial(name.slice('partials/'.length), source);
        else this.#pages.set(name, this.#hbs.compile(source, { strict: false, noEscape: plain }));
      }
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
