/**
 * OIDC Core 8.1 and Registration 1.0 section 5: a pairwise client whose redirect URIs span more
 * than one host names a sector_identifier_uri, an https address answering a JSON array that lists
 * every one of its redirect URIs; the host of that address is then the sector its pairwise subs
 * are computed for. Monban reads it here, once, when an admin registers or changes the client.
 * oidc-provider would fetch it again whenever a process loads the client (so logins would depend
 * on the RP's server being up); that fetch is turned off (sectorIdentifierUriValidate in
 * oidc/provider.ts). Only an admin names the address, and the tests serve it on loopback.
 */

const MAX_BYTES = 64 * 1024;
const TIMEOUT_MS = 5000;

/** Why the sector_identifier_uri cannot be used for these redirect URIs, or undefined when it can. */
export async function sectorIdentifierProblem(uri: string, redirectUris: string[]): Promise<string | undefined> {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return `sector_identifier_uri is not an absolute URL: ${uri}`;
  }
  if (url.protocol !== 'https:') return `sector_identifier_uri must use https: ${uri}`;
  if (url.hash) return `sector_identifier_uri must not contain a fragment: ${uri}`;
  let listed: unknown;
  try {
    const res = await fetch(url, {
      headers: { accept: 'application/json' },
      redirect: 'error',
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
    if (res.status !== 200) {
      await res.body?.cancel();
      return `sector_identifier_uri answered ${res.status}, not 200`;
    }
    const text = await readLimited(res);
    if (text === undefined) return `sector_identifier_uri answered more than ${MAX_BYTES} bytes`;
    listed = JSON.parse(text);
  } catch (err) {
    return `could not read a JSON array at sector_identifier_uri: ${(err as Error).message}`;
  }
  if (!Array.isArray(listed) || listed.some((v) => typeof v !== 'string'))
    return 'sector_identifier_uri must answer a JSON array of redirect URIs';
  const missing = redirectUris.filter((r) => !listed.includes(r));
  if (missing.length) return `sector_identifier_uri does not list the redirect URI ${missing.join(', ')}`;
  return undefined;
}

async function readLimited(res: Response): Promise<string | undefined> {
  const reader = (res.body as ReadableStream<Uint8Array> | null)?.getReader();
  if (!reader) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_BYTES) {
      await reader.cancel();
      return undefined;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}
