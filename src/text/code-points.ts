/**
 * The length of a text in Unicode code points: what people count as characters for length
 * rules (NIST SP 800-63B 5.1.1.2: each Unicode code point counts as one character), where
 * `.length` would count a kanji outside the BMP or an emoji as two.
 */
export function codePointCount(text: string): number {
  let count = 0;
  for (const _ of text) count += 1;
  return count;
}
