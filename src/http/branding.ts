import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Context, Next } from 'koa';
import type { Config } from '../config/schema.js';
import { BRAND_CSS_PATH, LOGO_PATH, logoIsUrl } from '../text/branding.js';

const IMAGE_TYPES: Record<string, string> = {
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.webp': 'image/webp',
  '.gif': 'image/gif',
};

/** A logo file, read once at start: a missing or unknown file stops the start with its name. */
function readLogo(file: string): { type: string; body: Buffer } {
  const type = IMAGE_TYPES[path.extname(file).toLowerCase()];
  if (!type) throw new Error(`branding.logo: ${file} is not a .png, .svg, .jpg, .webp or .gif file`);
  return { type, body: readFileSync(path.resolve(file)) };
}

/** Where the page may load the logo from (the CSP's img-src): the logo URL's origin, if it is one. */
export function logoSources(branding: Config['branding']): string[] {
  return branding.logo && logoIsUrl(branding.logo) ? [new URL(branding.logo).origin] : [];
}

/**
 * Serves the brand: the stylesheet with its primary colour over public/monban.css (a file, not an
 * inline style, so the CSP keeps style-src 'self') and the logo when it is a file.
 */
export function brandingFiles(branding: Config['branding']) {
  const css = `:root { --accent: ${branding.primaryColor}; }\n`;
  const logo = branding.logo && !logoIsUrl(branding.logo) ? readLogo(branding.logo) : undefined;
  return async (ctx: Context, next: Next): Promise<void> => {
    const reading = ctx.method === 'GET' || ctx.method === 'HEAD';
    if (reading && ctx.path === BRAND_CSS_PATH) {
      ctx.type = 'text/css; charset=utf-8';
      ctx.set('cache-control', 'public, max-age=300');
      ctx.body = css;
    } else if (reading && ctx.path === LOGO_PATH && logo) {
      ctx.type = logo.type;
      ctx.set('cache-control', 'public, max-age=3600');
      ctx.body = logo.body;
    } else {
      await next();
    }
  };
}
