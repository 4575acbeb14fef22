import { LoopbackCookies } from '../../bench/loopback-cookies.js';

/** The benchmark browsers' jar must send what a browser would, or its logins would fail or lie. */
describe("the benchmark browsers' cookie jar", () => {
  const origin = 'http://127.0.0.1:3000';

  it('sends a cookie only under its path, longer paths first', () => {
    const jar = new LoopbackCookies();
    jar.store(['_session=s; path=/; httponly', '_interaction=i; path=/interaction/abc; httponly'], `${origin}/auth`);
    jar.store(['_resume=r; path=/auth/abc'], `${origin}/interaction/abc/password`);

    expect(jar.header(`${origin}/interaction/abc/password`)).toBe('_interaction=i; _session=s');
    expect(jar.header(`${origin}/interaction/abcd`)).toBe('_session=s');
    expect(jar.header(`${origin}/auth/abc`)).toBe('_resume=r; _session=s');
    expect(jar.header(`${origin}/token`)).toBe('_session=s');
  });

  it('takes the directory of the request as the default path, and replaces a cookie of the same name and path', () => {
    const jar = new LoopbackCookies();
    jar.store(['a=1'], `${origin}/account/security`);
    jar.store(['a=2'], `${origin}/account/profile`);

    expect(jar.header(`${origin}/account/passkeys`)).toBe('a=2');
    expect(jar.header(`${origin}/`)).toBe('');
  });

  it('forgets a cookie that a response expires, by Max-Age or by a date in the past', () => {
    const jar = new LoopbackCookies();
    jar.store(['a=1; path=/', 'b=2; path=/', 'c=3; path=/; max-age=60'], `${origin}/`);
    jar.store(['a=; path=/; max-age=0', 'b=; path=/; expires=Thu, 01 Jan 1970 00:00:01 GMT'], `${origin}/x`);

    expect(jar.header(`${origin}/`)).toBe('c=3');
  });

  it('keeps a cookie whose Max-Age says so even when its Expires date has passed', () => {
    const jar = new LoopbackCookies();
    jar.store(['a=1; expires=Thu, 01 Jan 1970 00:00:01 GMT; max-age=60; path=/'], `${origin}/`);

    expect(jar.header(`${origin}/`)).toBe('a=1');
  });
});
