import type { IncomingMessage } from 'node:http';
import type { Context, Next } from 'koa';
import { AppError } from '../errors.js';

/** A form as posted: one string per name, or the strings in order when a name repeats. */
export type FormFields = Record<string, string | string[]>;

const FORM_TYPE = 'application/x-www-form-urlencoded';

/** Whether the Content-Type is a urlencoded form, whatever its parameters (charset). */
function isUrlencoded(contentType: string | undefined): boolean {
  if (!contentType) return false;
  const semicolon = contentType.indexOf(';');
  const type = (semicolon === -1 ? contentType : contentType.slice(0, semicolon)).trim();
  return type.length === FORM_TYPE.length && type.toLowerCase() === FORM_TYPE;
}

/** The body's bytes, refused with 413 as soon as they pass `limitBytes` (declared or sent). */
function readBody(req: IncomingMessage, limitBytes: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (declared > limitBytes) return Promise.reject(new AppError('BODY_TOO_LARGE'));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (error?: AppError) => {
      req.off('data', onData).off('end', onEnd).off('error', onError).off('aborted', onAborted);
      if (error) {
        // The rest is not read (as raw-body does): a sender of endless data gets its answer and
        // is held back by TCP flow control until the connection times out.
        req.pause();
        reject(error);
      } else resolve(Buffer.concat(chunks, size));
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limitBytes) done(new AppError('BODY_TOO_LARGE'));
      else chunks.push(chunk);
    };
    const onEnd = () => done();
    const onError = () => done(new AppError('BAD_REQUEST'));
    const onAborted = () => done(new AppError('BAD_REQUEST'));
    req.on('data', onData).on('end', onEnd).on('error', onError).on('aborted', onAborted);
  });
}

/**
 * The fields of a urlencoded body (WHATWG URL standard, application/x-www-form-urlencoded
 * parsing), in an object without a prototype so that no name ("__proto__", "constructor")
 * reaches Object.prototype.
 */
export function parseFormFields(text: string): FormFields {
  const fields = Object.create(null) as FormFields;
  for (const [name, value] of new URLSearchParams(text)) {
    const seen = fields[name];
    if (seen === undefined) fields[name] = value;
    else if (typeof seen === 'string') fields[name] = [seen, value];
    else seen.push(value);
  }
  return fields;
}

/**
 * Urlencoded forms only, with a small size cap; oidc-provider parses its own endpoints. Written
 * here rather than taken from @koa/bodyparser: a page's form is a few hundred bytes that
 * browsers never compress, and the general parser's content-type matching, decompression and
 * nested-name parsing (qs) cost more than the login's other steps.
 * Another type of body reads as no fields (the CSRF check then refuses the post); a compressed
 * one is refused with 415.
 */
export function formBody(limitBytes: number) {
  return async (ctx: Context, next: Next): Promise<void> => {
    const request = ctx.request as { body?: unknown };
    if (request.body === undefined && (ctx.method === 'POST' || ctx.method === 'PUT' || ctx.method === 'PATCH')) {
      if (!isUrlencoded(ctx.get('content-type'))) request.body = {};
      else {
        const encoding = ctx.get('content-encoding').toLowerCase();
        if (encoding !== '' && encoding !== 'identity') throw new AppError('UNSUPPORTED_MEDIA_TYPE');
        request.body = parseFormFields((await readBody(ctx.req, limitBytes)).toString('utf8'));
      }
    }
    await next();
  };
}
