/**
 * A Map that holds at most `max` entries, for the caches a process keeps in memory: setting a
 * new key when it is full drops the entry set longest ago, and setting a key again makes it the
 * newest. Reads do not reorder, so the oldest is the least recently written, not read.
 */
export class BoundedMap<K, V> extends Map<K, V> {
  constructor(readonly max: number) {
    super();
  }

  override set(key: K, value: V): this {
    if (!this.delete(key) && this.size >= this.max) {
      const oldest = this.keys().next();
      if (!oldest.done) this.delete(oldest.value);
    }
    return super.set(key, value);
  }
}
