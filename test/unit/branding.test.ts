import { logoSources } from '../../src/http/branding.js';
import { brandFor } from '../../src/text/branding.js';

const BRANDING = {
  productName: 'Kaisha ID',
  primaryColor: '#c8102e',
  supportLinks: [
    { label: { en: 'Service desk', ja: 'サービスデスク' }, url: 'https://desk.kaisha.example/' },
    { label: { ja: '社内ポータル' }, url: 'https://portal.kaisha.example/' },
  ],
  footerText: { ja: '株式会社カイシャ' },
};

describe('the brand of a page or mail', () => {
  it('uses a logo URL as it is, and lets the pages load images from its origin only', () => {
    const branding = { ...BRANDING, logo: 'https://cdn.kaisha.example/brand/logo.svg' };
    expect(brandFor(branding, 'en', 'https://id.kaisha.example').logoUrl).toBe(
      'https://cdn.kaisha.example/brand/logo.svg',
    );
    expect(logoSources(branding)).toEqual(['https://cdn.kaisha.example']);
  });

  it("points at Monban's own /branding/logo for a logo file: relative on pages, under the issuer in mails", () => {
    const branding = { ...BRANDING, logo: '/etc/monban/logo.png' };
    expect(brandFor(branding, 'en').logoUrl).toBe('/branding/logo');
    expect(brandFor(branding, 'en', 'https://id.kaisha.example').logoUrl).toBe(
      'https://id.kaisha.example/branding/logo',
    );
    expect(logoSources(branding)).toEqual([]);
    expect(brandFor(BRANDING, 'en').logoUrl).toBeUndefined();
  });

  it('gives texts in the reader’s language, falling back to the other one', () => {
    const en = brandFor(BRANDING, 'en');
    expect(en.supportLinks).toEqual([
      { label: 'Service desk', url: 'https://desk.kaisha.example/' },
      { label: '社内ポータル', url: 'https://portal.kaisha.example/' },
    ]);
    expect(en.footerText).toBe('株式会社カイシャ');
    expect(brandFor(BRANDING, 'ja').supportLinks[0]?.label).toBe('サービスデスク');
  });
});
