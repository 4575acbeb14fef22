import { BoundedMap } from '../../src/bounded-map.js';

describe('BoundedMap, the in-process caches’ bound', () => {
  it('drops the entry written longest ago when a new key comes in full', () => {
    const map = new BoundedMap<string, number>(3);
    for (const [key, value] of [
      ['a', 1],
      ['b', 2],
      ['c', 3],
      ['d', 4],
    ] as const)
      map.set(key, value);
    expect([...map.keys()]).toEqual(['b', 'c', 'd']);
    expect(map.get('a')).toBeUndefined();
  });

  it('keeps its size when a key already held is written again, and makes it the newest', () => {
    const map = new BoundedMap<string, number>(3);
    map.set('a', 1).set('b', 2).set('c', 3);
    map.set('a', 10);
    expect(map.size).toBe(3);
    map.set('d', 4);
    expect([...map.entries()]).toEqual([
      ['c', 3],
      ['a', 10],
      ['d', 4],
    ]);
  });

  it('never holds more than its bound, however many keys pass through', () => {
    const map = new BoundedMap<number, number>(100);
    for (let i = 0; i < 10_000; i += 1) map.set(i, i);
    expect(map.size).toBe(100);
    expect(map.get(9_999)).toBe(9_999);
    expect(map.get(9_899)).toBeUndefined();
  });
});
