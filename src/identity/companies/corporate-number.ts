/**
 * 法人番号 (corporate number): 13 digits, the first a check digit over the other twelve
 * (法人番号の指定等に関する省令 第2条): 9 − (Σ Pn × Qn mod 9), where Pn is the n-th digit
 * counted from the right of the twelve and Qn is 1 for odd n, 2 for even n.
 */
export function corporateNumberCheckDigit(base12: string): number {
  let sum = 0;
  for (let n = 1; n <= 12; n++) sum += Number(base12[12 - n]) * (n % 2 === 1 ? 1 : 2);
  return 9 - (sum % 9);
}

/** The number in its stored form (13 ASCII digits), or undefined when it is not a valid 法人番号. */
export function normalizeCorporateNumber(input: string): string | undefined {
  // Full-width digits and the hyphens or spaces people type are accepted.
  const digits = input.normalize('NFKC').replace(/[\s-]/g, '');
  if (!/^\d{13}$/.test(digits)) return undefined;
  return corporateNumberCheckDigit(digits.slice(1)) === Number(digits[0]) ? digits : undefined;
}
