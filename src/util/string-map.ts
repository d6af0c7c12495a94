/**
 * A map from strings, split over {@link SHARDS} JavaScript Maps by a hash of
 * the whole key. A Map grows by rehashing every entry it holds in one go: at
 * half a million keys that is 40–60 ms in one turn of the event loop (the
 * restore, or the enqueue, that crosses the size). A shard holds about a
 * 256th of the keys, so its growth is a 256th of that.
 */

/** Shards: a power of two. */
const SHARDS = 256;

export class ShardedStringMap<V> {
  readonly #shards: Map<string, V>[] = Array.from({ length: SHARDS }, () => new Map());
  #size = 0;
  /**
   * The last key hashed and its shard: an enqueue with a caller id looks its
   * id up and then sets it (check, then apply), and the hash walks the whole
   * id, so the second call reuses the first one's.
   */
  #lastKey: string | undefined = undefined;
  #lastShard: Map<string, V> | undefined = undefined;

  get size(): number {
    return this.#size;
  }

  #shardFor(key: string): Map<string, V> {
    if (key === this.#lastKey) return this.#lastShard!;
    const shard = this.#shards[shardOf(key)]!;
    this.#lastKey = key;
    this.#lastShard = shard;
    return shard;
  }

  get(key: string): V | undefined {
    return this.#shardFor(key).get(key);
  }

  has(key: string): boolean {
    return this.#shardFor(key).has(key);
  }

  set(key: string, value: V): this {
    const shard = this.#shardFor(key);
    const before = shard.size;
    shard.set(key, value);
    this.#size += shard.size - before;
    return this;
  }

  delete(key: string): boolean {
    if (!this.#shardFor(key).delete(key)) return false;
    this.#size--;
    return true;
  }

  /** The most keys one shard holds (tests). */
  largestShard(): number {
    let most = 0;
    for (const shard of this.#shards) most = Math.max(most, shard.size);
    return most;
  }
}

/**
 * The shard of `key`: a multiplicative hash over every code unit, two at a
 * time. Every unit counts because callers put the part of an id that varies
 * anywhere (`tenant-<n>:send-email`, `<n>-reminder-v1`, a UUID).
 */
function shardOf(key: string): number {
  const n = key.length;
  let hash = Math.imul(n ^ 0x811c9dc5, 0x9e3779b1);
  let i = 0;
  for (; i + 1 < n; i += 2)
    hash = Math.imul(hash ^ (key.charCodeAt(i) | (key.charCodeAt(i + 1) << 16)), 0x9e3779b1);
  if (i < n) hash = Math.imul(hash ^ key.charCodeAt(i), 0x9e3779b1);
  hash = Math.imul(hash ^ (hash >>> 15), 0x85ebca6b);
  return (hash ^ (hash >>> 13)) >>> 24;
}
