/**
 * Telling two cases apart by their answer times, on a machine that other work keeps busy.
 *
 * The two cases are measured in pairs, back to back, alternating which goes first; what counts
 * is the difference within each pair. Load from other processes comes and goes over seconds and
 * hits both halves of a pair alike, so it drops out of the difference, where it would shift two
 * separately taken medians apart. The median of the differences is judged against a tolerance
 * with a distribution-free 95% confidence interval (the sign test's order statistics): inside
 * the tolerance on both sides means the cases are indistinguishable; wholly outside means one
 * is slower (a leak); anything else is inconclusive, and more pairs are taken before the median
 * alone decides.
 */

export type Verdict = 'indistinguishable' | 'leak' | 'inconclusive';

export interface Judgement {
  verdict: Verdict;
  pairs: number;
  /** Median of (first case - second case), ms. */
  median: number;
  /** 95% confidence interval of that median, ms. */
  low: number;
  high: number;
}

export const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

/** P(X <= k) for X ~ Binomial(n, 1/2). */
function binomialCdf(n: number, k: number): number {
  let term = Math.pow(0.5, n);
  let sum = 0;
  for (let i = 0; i <= k; i += 1) {
    sum += term;
    term *= (n - i) / (i + 1);
  }
  return sum;
}

/**
 * The 1-based rank r such that [x(r), x(n+1-r)] of n sorted values covers the median with at
 * least 95% confidence (sign test), or 0 when n is too small for any interval.
 */
function confidenceRank(n: number): number {
  let rank = 0;
  for (let r = 1; r <= n / 2; r += 1) {
    if (binomialCdf(n, r - 1) <= 0.025) rank = r;
    else break;
  }
  return rank;
}

/** Judges paired differences (ms) against a tolerance (ms). */
export function judge(differences: number[], toleranceMs: number): Judgement {
  const sorted = [...differences].sort((a, b) => a - b);
  const n = sorted.length;
  const rank = confidenceRank(n);
  const low = rank ? sorted[rank - 1]! : -Infinity;
  const high = rank ? sorted[n - rank]! : Infinity;
  const verdict: Verdict =
    low > -toleranceMs && high < toleranceMs
      ? 'indistinguishable'
      : low >= toleranceMs || high <= -toleranceMs
        ? 'leak'
        : 'inconclusive';
  return { verdict, pairs: n, median: median(sorted), low, high };
}

export interface PairedTiming {
  /** Pairs per round. */
  batch: number;
  /** At most this many pairs; then the median alone decides. */
  maxPairs: number;
  /** The tolerance, given the times seen so far of each case (it may grow with them). */
  toleranceMs: (first: number[], second: number[]) => number;
}

export interface PairedResult extends Judgement {
  toleranceMs: number;
  first: number[];
  second: number[];
}

/**
 * Measures `sample(which)` for both cases in pairs, round after round, until the judgement is
 * conclusive or `maxPairs` pairs were taken (then: indistinguishable when the median difference
 * is within the tolerance, a leak otherwise).
 */
export async function comparePaired(
  sample: (which: 'first' | 'second') => Promise<number>,
  options: PairedTiming,
): Promise<PairedResult> {
  const first: number[] = [];
  const second: number[] = [];
  const differences: number[] = [];
  for (;;) {
    for (let i = 0; i < options.batch; i += 1) {
      const pair: Record<'first' | 'second', number> = { first: 0, second: 0 };
      const order = differences.length % 2 === 0 ? (['first', 'second'] as const) : (['second', 'first'] as const);
      for (const which of order) pair[which] = await sample(which);
      first.push(pair.first);
      second.push(pair.second);
      differences.push(pair.first - pair.second);
    }
    const toleranceMs = options.toleranceMs(first, second);
    const judgement = judge(differences, toleranceMs);
    if (judgement.verdict !== 'inconclusive') return { ...judgement, toleranceMs, first, second };
    if (differences.length >= options.maxPairs) {
      const verdict = Math.abs(judgement.median) < toleranceMs ? 'indistinguishable' : 'leak';
      return { ...judgement, verdict, toleranceMs, first, second };
    }
  }
}

export function describeResult(what: string, result: PairedResult, names: [string, string]): string {
  return (
    `${what}: ${result.verdict} after ${result.pairs} pairs; median ${median(result.first).toFixed(1)} ms ` +
    `${names[0]}, ${median(result.second).toFixed(1)} ms ${names[1]}; median difference ` +
    `${result.median.toFixed(1)} ms (95% ${result.low.toFixed(1)} to ${result.high.toFixed(1)}), ` +
    `tolerance ${result.toleranceMs.toFixed(1)} ms`
  );
}
