/**
 * Bounds for what metrics remember. Label values and task ids come from messages and events, which anyone who can
 * publish to the broker controls: without a bound, a stream of made-up task names would grow the registry (and
 * every scrape) without end.
 */

/** The label value given to every value past the cap. */
export const OVERFLOW_LABEL = 'other';

/** Longest label value kept; longer ones are cut (a name is an identifier, never a paragraph). */
const MAX_LABEL_LENGTH = 200;

/**
 * Admits up to `max` distinct values of one label; later new values all become `other`. Values already admitted
 * keep their own series, so a flood of new names leaves the known ones intact.
 */
export class LabelCap {
  private readonly seen = new Set<string>();

  constructor(private readonly max: number) {
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`label cap must be a positive integer, got ${max}`);
  }

  value(raw: string): string {
    const v = raw.length > MAX_LABEL_LENGTH ? raw.slice(0, MAX_LABEL_LENGTH) : raw;
    if (this.seen.has(v)) return v;
    if (this.seen.size >= this.max) return OVERFLOW_LABEL;
    this.seen.add(v);
    return v;
  }

  /** Frees a value's place (its series was removed). */
  forget(v: string): void {
    this.seen.delete(v);
  }

  get size(): number {
    return this.seen.size;
  }
}

/** A map that keeps its `max` most recently used entries (a Map iterates in insertion order: oldest first). */
export class LruMap<K, V> {
  private readonly map = new Map<K, V>();

  constructor(private readonly max: number) {
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`LRU size must be a positive integer, got ${max}`);
  }

  get(key: K): V | undefined {
    const v = this.map.get(key);
    if (v === undefined) return undefined;
    this.map.delete(key);
    this.map.set(key, v);
    return v;
  }

  set(key: K, value: V): void {
    this.map.delete(key);
    this.map.set(key, value);
    if (this.map.size > this.max) this.map.delete(this.map.keys().next().value as K);
  }

  delete(key: K): boolean {
    return this.map.delete(key);
  }

  /** Oldest first; reading does not count as a use. */
  entries(): IterableIterator<[K, V]> {
    return this.map.entries();
  }

  get size(): number {
    return this.map.size;
  }
}
