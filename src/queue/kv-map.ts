/**
 * The user KV namespace as state: an ordered map from key to value, apart
 * from the jobs, changed only by `apply`. Keys are ordered as JavaScript
 * compares strings (UTF-16 code units), so every key with a given prefix sits
 * in one run and a scan by prefix is a seek plus a walk.
 *
 * Backed by sorted-btree's B+ tree: O(log n) reads and writes at any size,
 * and an O(1) copy-on-write `clone()`, which is the frozen view a checkpoint
 * encodes in slices while the live map keeps changing (the live map copies a
 * shared node before its first write; the view never changes).
 */
import { BTree, compareStrings } from "../util/btree.js";
import { prefixedBytes } from "./binary.js";

/** Bytes one entry takes in a checkpoint's KV section: key and value, each length-prefixed. */
export function kvEntryBytes(key: string, value: Uint8Array): number {
  return prefixedBytes(Buffer.byteLength(key, "utf8")) + prefixedBytes(value.byteLength);
}

/** A frozen copy of the map, as a checkpoint encodes it. */
export interface KvView {
  readonly size: number;
  /** Bytes of the entries as a checkpoint writes them (see {@link kvEntryBytes}). */
  readonly encodedBytes: number;
  /** Entries in key order, from the first. */
  entries(): IterableIterator<[string, Uint8Array]>;
}

export class KvMap {
  #tree = new BTree<string, Uint8Array>(undefined, compareStrings);
  #encodedBytes = 0;

  get size(): number {
    return this.#tree.size;
  }

  /** Bytes of every entry as a checkpoint writes them. */
  get encodedBytes(): number {
    return this.#encodedBytes;
  }

  get(key: string): Uint8Array | undefined {
    return this.#tree.get(key);
  }

  has(key: string): boolean {
    return this.#tree.has(key);
  }

  /** Sets `key` to `value` (kept as given: the caller hands over a copy it does not change). */
  set(key: string, value: Uint8Array): void {
    const old = this.#tree.get(key);
    if (old !== undefined) this.#encodedBytes -= kvEntryBytes(key, old);
    this.#encodedBytes += kvEntryBytes(key, value);
    this.#tree.set(key, value, true);
  }

  /** Removes `key`; whether it was there. */
  delete(key: string): boolean {
    const old = this.#tree.get(key);
    if (old === undefined) return false;
    this.#encodedBytes -= kvEntryBytes(key, old);
    this.#tree.delete(key);
    return true;
  }

  /**
   * Up to `limit` entries whose key starts with `prefix`, in key order,
   * strictly after `after` when given; `more` tells whether another follows.
   */
  scan(
    prefix: string,
    after: string | undefined,
    limit: number,
  ): { entries: [string, Uint8Array][]; more: boolean } {
    const entries: [string, Uint8Array][] = [];
    const start = after !== undefined && after > prefix ? after : prefix;
    for (const [key, value] of this.#tree.entries(start)) {
      if (!key.startsWith(prefix)) break;
      if (key === after) continue;
      if (entries.length === limit) return { entries, more: true };
      entries.push([key, value]);
    }
    return { entries, more: false };
  }

  /** A frozen view for a checkpoint: O(1), copy-on-write (see the module comment). */
  freeze(): KvView {
    const tree = this.#tree.clone();
    const encodedBytes = this.#encodedBytes;
    return {
      size: tree.size,
      encodedBytes,
      entries: () => tree.entries(),
    };
  }

  /**
   * Appends an entry whose key sorts after every key so far (a restore from
   * a checkpoint, which holds them in key order). False when out of order.
   */
  append(key: string, value: Uint8Array): boolean {
    const last = this.#tree.maxKey();
    if (last !== undefined && compareStrings(last, key) >= 0) return false;
    this.set(key, value);
    return true;
  }
}
