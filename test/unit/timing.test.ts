import { comparePaired, judge } from '../helpers/timing.js';

// The paired comparison behind the enumeration timing tests (test/helpers/timing.ts), on
// made-up times: load that comes and goes must not look like a leak, and a leak must.

/** A deterministic pseudo-random generator (mulberry32), so these tests cannot flake. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Times of one case on a loaded machine: a base time, load that lasts for a few samples in a row
 * (up to +60 ms, or now and then +200 ms), and jitter of a few ms.
 */
function loadedMachine(seed: number, leakMs: number) {
  const next = random(seed);
  let load = 0;
  let left = 0;
  return (which: 'first' | 'second'): Promise<number> => {
    if (left-- <= 0) {
      load = next() < 0.1 ? 200 * next() : 60 * next();
      left = 1 + Math.floor(next() * 6);
    }
    return Promise.resolve(15 + load + 4 * next() + (which === 'first' ? leakMs : 0));
  };
}

const options = { batch: 20, maxPairs: 100, toleranceMs: () => 20 };

describe('paired timing comparison', () => {
  it('needs enough pairs for an interval and is inconclusive without one', () => {
    expect(judge([1, 2, 3, 4, 5], 20).verdict).toBe('inconclusive');
    expect(judge(Array<number>(20).fill(1), 20).verdict).toBe('indistinguishable');
    expect(judge(Array<number>(20).fill(25), 20).verdict).toBe('leak');
    expect(judge(Array<number>(20).fill(-25), 20).verdict).toBe('leak');
  });

  it.each([1, 2, 3, 4, 5, 6, 7, 8])('does not take load that comes and goes for a leak (seed %i)', async (seed) => {
    const result = await comparePaired(loadedMachine(seed, 0), options);
    expect(result.verdict).toBe('indistinguishable');
  });

  it.each([1, 2, 3, 4, 5, 6, 7, 8])('finds 30 ms more on one side under the same load (seed %i)', async (seed) => {
    const result = await comparePaired(loadedMachine(seed, 30), options);
    expect(result.verdict).toBe('leak');
  });
});
