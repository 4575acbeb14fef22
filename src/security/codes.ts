import { createHmac, randomInt, timingSafeEqual } from 'node:crypto';

/**
 * One-time codes (X2): random digits, stored only as an HMAC bound to the flow they belong to,
 * compared in constant time. A database dump alone does not reveal a usable code.
 */
export class CodeHasher {
  constructor(private readonly key: Buffer) {}

  generate(digits: number): string {
    let code = '';
    for (let i = 0; i < digits; i += 1) code += String(randomInt(10));
    return code;
  }

  hash(code: string, flowId: string): string {
    return createHmac('sha256', this.key).update(`${flowId}\u0000${code}`).digest('base64url');
  }

  matches(code: string, flowId: string, stored: string): boolean {
    const given = Buffer.from(this.hash(code.normalize('NFKC').replace(/\s+/g, ''), flowId));
    const expected = Buffer.from(stored);
    return given.length === expected.length && timingSafeEqual(given, expected);
  }
}
