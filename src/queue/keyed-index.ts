/**
 * An ordered set of job handles sorted by a unique string key (a job's own
 * `jobId`): the by-id index of claimed and dead jobs that have one
 * (`jobs-by-id.ts`).
 *
 * The same sorted chunks as {@link HandleIndex}, with each chunk's keys held
 * beside its handles. A lookup compares the key it looks for with keys read
 * straight from those arrays. Through a comparator over handles, every
 * comparison read both jobs' ids out of the table's extras (a `Map` lookup
 * and an object per side, scattered over the heap): at a million jobs a
 * random insert or delete cost 8–20 µs, and a requeue of every interrupted
 * claim at open took most of a minute. The price is one pointer per job in
 * the key arrays, to strings the table holds anyway.
 *
 * Never frozen: checkpoints store the enqueue-ordered indexes, not this one,
 * so chunks are changed in place. A job's key must not change while it is
 * in the index (its `jobId` never does).
 */

import { flattenChunks, type IndexPosition, nextInChunks } from "./handle-index.js";

/** A chunk splits in two above this many handles. */
const CHUNK_MAX = 512;
/** A chunk below this many handles is merged into a neighbour when they fit in one. */
const CHUNK_MIN = 64;
/** Chunk size when building from a sorted list (room to grow before the first split). */
const CHUNK_BUILD = 384;

export class KeyedIndex {
  readonly #keyOf: (h: number) => string;
  #handles: number[][] = [];
  /** `#keys[c][i]` is the key of `#handles[c][i]`. */
  #keys: string[][] = [];
  /** Last (largest) key of each chunk, kept exact. */
  #maxKeys: string[] = [];
  #size = 0;

  /** `keyOf(h)`: the key of job `h`, read when it is inserted or deleted. */
  constructor(keyOf: (h: number) => string) {
    this.#keyOf = keyOf;
  }

  get size(): number {
    return this.#size;
  }

  /**
   * Appends `handles[from..to)`, whose keys must follow every key in the
   * index and be increasing; `keys[k]` is the key of `handles[k]` when given
   * (else each is read). No comparisons.
   */
  appendSorted(
    handles: ArrayLike<number>,
    from = 0,
    to = handles.length,
    keys?: ArrayLike<string>,
  ): void {
    let at = from;
    while (at < to) {
      let ci = this.#handles.length - 1;
      if (ci < 0 || this.#handles[ci]!.length >= CHUNK_BUILD) {
        this.#handles.push([]);
        this.#keys.push([]);
        this.#maxKeys.push("");
        ci++;
      }
      const chunk = this.#handles[ci]!;
      const chunkKeys = this.#keys[ci]!;
      const end = Math.min(to, at + CHUNK_BUILD - chunk.length);
      for (; at < end; at++) {
        const h = handles[at]!;
        chunk.push(h);
        chunkKeys.push(keys === undefined ? this.#keyOf(h) : keys[at]!);
      }
      this.#maxKeys[ci] = chunkKeys[chunkKeys.length - 1]!;
    }
    this.#size += Math.max(0, to - from);
  }

  /** Whether `handle` is in the index (looked up by its key). */
  has(handle: number): boolean {
    if (this.#size === 0) return false;
    const key = this.#keyOf(handle);
    const ci = this.#chunkFor(key);
    return this.#handles[ci]![offsetIn(this.#keys[ci]!, key)] === handle;
  }

  /** Adds `handle` (which must not be in the index yet); `key` is its key, when the caller read it already. */
  insert(handle: number, key = this.#keyOf(handle)): void {
    if (this.#size === 0) {
      this.#handles.push([handle]);
      this.#keys.push([key]);
      this.#maxKeys.push(key);
      this.#size = 1;
      return;
    }
    const last = this.#maxKeys.length - 1;
    // Past the last key (jobs that come in id order): append without searching.
    const ci = this.#maxKeys[last]! < key ? last : this.#chunkFor(key);
    const chunk = this.#handles[ci]!;
    const keys = this.#keys[ci]!;
    const pos = offsetIn(keys, key);
    if (pos === chunk.length) {
      chunk.push(handle);
      keys.push(key);
      this.#maxKeys[ci] = key;
    } else {
      if (chunk[pos] === handle) throw new Error(`handle ${handle} is already in the index`);
      chunk.splice(pos, 0, handle);
      keys.splice(pos, 0, key);
    }
    this.#size++;
    if (chunk.length > CHUNK_MAX) this.#split(ci);
  }

  /** Removes `handle` (whose key is `key`); false when it was not in the index. */
  delete(handle: number, key = this.#keyOf(handle)): boolean {
    if (this.#size === 0) return false;
    const ci = this.#chunkFor(key);
    const pos = offsetIn(this.#keys[ci]!, key);
    if (this.#handles[ci]![pos] !== handle) return false;
    this.#removeAt(ci, pos);
    return true;
  }

  /** The position of the first job whose key sorts after `key`. */
  seekAfter(key: string): IndexPosition {
    let lo = 0;
    let hi = this.#maxKeys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#maxKeys[mid]! <= key) lo = mid + 1;
      else hi = mid;
    }
    if (lo === this.#maxKeys.length) return { chunk: lo, offset: 0 };
    const keys = this.#keys[lo]!;
    let a = 0;
    let b = keys.length;
    while (a < b) {
      const mid = (a + b) >>> 1;
      if (keys[mid]! <= key) a = mid + 1;
      else b = mid;
    }
    return { chunk: lo, offset: a };
  }

  /** The handle at `position`, advancing it; -1 past the end. */
  next(position: IndexPosition): number {
    return nextInChunks(this.#handles, position);
  }

  /** Every handle in order (tests and audits). */
  toArray(): number[] {
    return flattenChunks(this.#handles);
  }

  /** Checks the chunks, the keys beside them (against `keyOf`) and their order; the first problem, or null. */
  problems(): string | null {
    let count = 0;
    let previous: string | null = null;
    if (this.#keys.length !== this.#handles.length || this.#maxKeys.length !== this.#handles.length)
      return "the key arrays do not match the chunks";
    for (let ci = 0; ci < this.#handles.length; ci++) {
      const chunk = this.#handles[ci]!;
      const keys = this.#keys[ci]!;
      if (chunk.length === 0) return `chunk ${ci} is empty`;
      if (keys.length !== chunk.length)
        return `chunk ${ci} has ${keys.length} keys for ${chunk.length} handles`;
      if (this.#maxKeys[ci] !== keys[keys.length - 1]) return `chunk ${ci} has a stale maximum`;
      for (let i = 0; i < chunk.length; i++) {
        const key = keys[i]!;
        if (this.#keyOf(chunk[i]!) !== key) return `handle ${chunk[i]} is kept under a stale key`;
        if (previous !== null && previous >= key)
          return `keys ${previous} and ${key} are out of order`;
        previous = key;
        count++;
      }
    }
    return count === this.#size ? null : `size ${this.#size} but ${count} handles`;
  }

  /** Index of the chunk that holds `key` or would: the first whose maximum is ≥ it (else the last). */
  #chunkFor(key: string): number {
    const maxKeys = this.#maxKeys;
    let lo = 0;
    let hi = maxKeys.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (maxKeys[mid]! < key) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  #removeAt(ci: number, pos: number): void {
    const chunk = this.#handles[ci]!;
    const keys = this.#keys[ci]!;
    // `splice` moves the keys in bulk (no write barrier per element); `shift` is cheaper still.
    if (pos === 0) {
      chunk.shift();
      keys.shift();
    } else {
      chunk.splice(pos, 1);
      keys.splice(pos, 1);
    }
    this.#size--;
    if (chunk.length === 0) {
      this.#handles.splice(ci, 1);
      this.#keys.splice(ci, 1);
      this.#maxKeys.splice(ci, 1);
      return;
    }
    this.#maxKeys[ci] = keys[keys.length - 1]!;
    if (chunk.length < CHUNK_MIN) this.#mergeSmall(ci);
  }

  #split(ci: number): void {
    const chunk = this.#handles[ci]!;
    const keys = this.#keys[ci]!;
    const half = chunk.length >>> 1;
    const upper = chunk.splice(half);
    const upperKeys = keys.splice(half);
    this.#handles.splice(ci + 1, 0, upper);
    this.#keys.splice(ci + 1, 0, upperKeys);
    this.#maxKeys.splice(ci, 1, keys[keys.length - 1]!, upperKeys[upperKeys.length - 1]!);
  }

  /** Merges small chunk `ci` into a neighbour when the two fit in one chunk. */
  #mergeSmall(ci: number): void {
    const into = this.#handles[ci + 1] !== undefined && this.#fits(ci, ci + 1) ? ci : ci - 1;
    if (into < 0 || !this.#fits(into, into + 1)) return;
    const chunk = this.#handles[into]!;
    const keys = this.#keys[into]!;
    for (const h of this.#handles[into + 1]!) chunk.push(h);
    for (const key of this.#keys[into + 1]!) keys.push(key);
    this.#handles.splice(into + 1, 1);
    this.#keys.splice(into + 1, 1);
    this.#maxKeys.splice(into, 2, keys[keys.length - 1]!);
  }

  /** Whether chunks `a` and `b` (both present) fit in one. */
  #fits(a: number, b: number): boolean {
    const first = this.#handles[a];
    const second = this.#handles[b];
    return first !== undefined && second !== undefined && first.length + second.length <= CHUNK_MAX;
  }
}

/** Offset in `keys` of the first key ≥ `key` (keys.length when none). */
function offsetIn(keys: readonly string[], key: string): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (keys[mid]! < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
