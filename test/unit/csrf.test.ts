import Tokens from 'csrf';
import { csrfTokenMatches } from '../../src/http/csrf.js';

describe('CSRF tokens', () => {
  const tokens = new Tokens();
  const secret = tokens.secretSync();

  it("accepts every token csrf's create makes for the browser's secret, as csrf's verify does", () => {
    for (let i = 0; i < 50; i += 1) {
      const token = tokens.create(secret);
      expect(csrfTokenMatches(secret, token)).toBe(true);
      expect(tokens.verify(secret, token)).toBe(true);
    }
  });

  it("refuses another browser's token, a changed or cut token, and what is not a token", () => {
    const token = tokens.create(secret);
    expect(csrfTokenMatches(tokens.secretSync(), token)).toBe(false);
    for (let i = 0; i < token.length; i += 1) {
      const changed = `${token.slice(0, i)}${token[i] === 'A' ? 'B' : 'A'}${token.slice(i + 1)}`;
      expect(csrfTokenMatches(secret, changed)).toBe(false);
    }
    expect(csrfTokenMatches(secret, token.slice(0, -1))).toBe(false);
    expect(csrfTokenMatches(secret, `${token}A`)).toBe(false);
    for (const notToken of ['', '-', `-${token}`, 'abc-123', token.replace('-', '')])
      expect(csrfTokenMatches(secret, notToken)).toBe(false);
  });
});
