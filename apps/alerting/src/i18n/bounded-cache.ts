/**
 * A least-recently-used map with a fixed capacity. Locale tags, time zones and template overrides
 * come from tenants, so every cache keyed by them is bounded.
 */
export class BoundedCache<K, V> {
  private readonly entries = new Map<K, V>();

  constructor(private readonly capacity: number) {}

  get size(): number {
    return this.entries.size;
  }

  getOrCreate(key: K, create: () => V): V {
    const found = this.entries.get(key);
    if (found !== undefined) {
      // Map keeps insertion order: re-inserting marks the entry as most recently used.
      this.entries.delete(key);
      this.entries.set(key, found);
      return found;
    }
    const value = create();
    this.entries.set(key, value);
    if (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value as K);
    return value;
  }
}
