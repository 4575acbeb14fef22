import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import i18next, { type TFunction } from 'i18next';

export type Locale = 'ja' | 'en';
export const LOCALES: readonly Locale[] = ['ja', 'en'];

export interface Translator {
  locale: Locale;
  t: TFunction;
}

const instance = i18next.createInstance();

type Messages = Record<string, unknown>;

/** `over` merged into `base`, key by key: an override file needs only the strings it changes. */
function mergeMessages(base: Messages, over: Messages): Messages {
  const merged: Messages = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const below = merged[key];
    merged[key] =
      value && typeof value === 'object' && below && typeof below === 'object'
        ? mergeMessages(below as Messages, value as Messages)
        : value;
  }
  return merged;
}

const readMessages = (file: string) => JSON.parse(readFileSync(file, 'utf8')) as Messages;

export interface I18nOptions {
  /** VIEWS_OVERRIDE_DIR: its locales/{ja,en}.json override single strings. */
  overrideDir?: string | undefined;
  /** {{product}} in the texts (branding.productName); pages and mails pass their own too. */
  productName?: string | undefined;
}

/** Loads views/locales/*.json once (with the override folder's strings on top); i18next does lookup, interpolation and fallback. */
export async function initI18n(viewsDir: string, options: I18nOptions = {}): Promise<void> {
  if (instance.isInitialized) return;
  const resources: Record<string, { translation: Messages }> = {};
  for (const locale of LOCALES) {
    let messages = readMessages(path.join(viewsDir, 'locales', `${locale}.json`));
    const override = options.overrideDir && path.join(options.overrideDir, 'locales', `${locale}.json`);
    if (override && existsSync(override)) messages = mergeMessages(messages, readMessages(override));
    resources[locale] = { translation: messages };
  }
  await instance.init({
    resources,
    fallbackLng: 'en',
    supportedLngs: [...LOCALES],
    interpolation: {
      escapeValue: false, // handlebars escapes on output
      defaultVariables: { product: options.productName ?? 'Monban' },
    },
    returnNull: false,
  });
}

export function translator(locale: Locale): Translator {
  return { locale, t: instance.getFixedT(locale) };
}

export function isLocale(value: unknown): value is Locale {
  return typeof value === 'string' && (LOCALES as readonly string[]).includes(value);
}
