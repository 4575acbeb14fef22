import type { Config } from '../config/schema.js';
import type { Locale } from './i18n.js';

/** Where Monban serves a logo that is a file (`branding.logo` as a path). */
export const LOGO_PATH = '/branding/logo';
/** The stylesheet that puts the brand's colour over public/monban.css. */
export const BRAND_CSS_PATH = '/branding.css';

/** What a page or a mail shows of the operator's brand, in the reader's language. */
export interface Brand {
  productName: string;
  /** The logo's address: the configured URL, or Monban's own LOGO_PATH (absolute in mails). */
  logoUrl?: string | undefined;
  primaryColor: string;
  supportLinks: { label: string; url: string }[];
  footerText?: string | undefined;
}

type Branding = Config['branding'];

export const logoIsUrl = (logo: string) => /^https?:\/\//i.test(logo);

const inLanguage = (text: Branding['footerText'], locale: Locale) =>
  text[locale] ?? text[locale === 'ja' ? 'en' : 'ja'];

/** The brand for `locale`; `origin` (the issuer) makes a served logo's address absolute, for mails. */
export function brandFor(branding: Branding, locale: Locale, origin = ''): Brand {
  const { logo } = branding;
  return {
    productName: branding.productName,
    logoUrl: logo === undefined ? undefined : logoIsUrl(logo) ? logo : `${origin}${LOGO_PATH}`,
    primaryColor: branding.primaryColor,
    supportLinks: branding.supportLinks.flatMap((link) => {
      const label = inLanguage(link.label, locale);
      return label ? [{ label, url: link.url }] : [];
    }),
    footerText: inLanguage(branding.footerText, locale),
  };
}
