/**
 * An ordered set of job handles (small integers naming rows of the job
 * table), ordered by a comparator over the table's columns: the indexes a
 * queue keeps per status (claim order, promotion order, retention order,
 * listing order). Owns the ordering structure only; what the order means is
 * the comparator's business.
 *
 * A list of sorted chunks (at most {@link CHUNK_MAX} handles each) with the
 * exact last handle of every chunk alongside, so a lookup is two binary
 * searches and an insert or delete moves at most one chunk's worth of
 * numbers. A chunk's handles are a `Uint32Array` (off the JS heap) of room
 * for up to {@link CHUNK_MAX} + 1, grown by doubling: a million handles are
 * a few thousand small objects, not megabytes of arrays that each young-
 * generation collection copies until they are promoted (a restore builds
 * them all at once), and no array is re-allocated on the heap as it grows.
 * Handles must be integers in [0, 2^32) (row numbers of the job table):
 * a `Uint32Array` would silently wrap anything else; {@link HandleIndex.insert}
 * refuses them, {@link HandleIndex.appendSorted} trusts its (sorted) input.
 *
 * A frozen {@link IndexView} (for a checkpoint encoded in slices) keeps the
 * order as of the moment it was taken: a chunk it still reads is copied
 * before its first change (copy-on-write per chunk), so freezing costs one
 * copy of the chunk list and a view of each chunk changed since the last
 * freeze, not a copy of the entries.
 *
 * The comparator must be a strict total order on the handles in the set and
 * must not change for a handle while it is in the set (remove a job before
 * changing the fields it is ordered by).
 */

import {
  CHUNK_BUILD,
  CHUNK_FIRST_ROOM,
  CHUNK_MAX,
  CHUNK_MIN,
  Chunk,
  copyChunks,
} from "./handle-chunk.js";

export type HandleOrder = (a: number, b: number) => number;

/** The order of an index as of {@link HandleIndex.freeze}; read it, then {@link HandleIndex.thaw} it. */
export class IndexView {
  constructor(
    readonly chunks: readonly ArrayLike<number>[],
    readonly size: number,
  ) {}
}

/** A position in an index: chunk and offset. Valid until the index changes. */
export interface IndexPosition {
  chunk: number;
  offset: number;
}

/** The handle at `position` in `chunks`, advancing it; -1 past the end. Shared by the chunked indexes. */
export function nextInChunks(
  chunks: readonly ArrayLike<number>[],
  position: IndexPosition,
): number {
  for (;;) {
    const chunk = chunks[position.chunk];
    if (chunk === undefined) return -1;
    if (position.offset < chunk.length) return chunk[position.offset++]!;
    position.chunk++;
    position.offset = 0;
  }
}

/** Every handle of `chunks` in order (tests and audits). */
export function flattenChunks(chunks: readonly ArrayLike<number>[]): number[] {
  const all: number[] = [];
  for (const chunk of chunks) for (let i = 0; i < chunk.length; i++) all.push(chunk[i]!);
  return all;
}

export class HandleIndex {
  readonly #compare: HandleOrder;
  #chunks: Chunk[] = [];
  /** Last (largest) handle of each chunk, kept exact. */
  #maxes: number[] = [];
  #size = 0;
  /** Chunks that frozen views still read; copied before their first change. */
  #shared: Set<Chunk> | null = null;
  #views = 0;
  /**
   * Where the handle after the last one deleted is (chunk, offset): a run of
   * deletes in index order (the children of a flow, removed with their
   * parent) finds each there, without the two binary searches. Only a
   * guess, checked against the chunk (a handle is in the index once).
   */
  #nextChunk = 0;
  #nextOffset = 0;

  constructor(compare: HandleOrder) {
    this.#compare = compare;
  }

  /**
   * An index holding `handles[from..to)`, which must already be in the
   * comparator's order (checked by the caller if it matters). No comparisons.
   */
  static fromSorted(
    compare: HandleOrder,
    handles: ArrayLike<number>,
    from = 0,
    to = handles.length,
  ): HandleIndex {
    const index = new HandleIndex(compare);
    index.appendSorted(handles, from, to);
    return index;
  }

  /**
   * Appends `handles[from..to)`, which must follow every handle in the index
   * and be in the comparator's order (checked by the caller if it matters).
   * No comparisons. The chunks come out as {@link fromSorted} makes them
   * however the list is split into calls, so a restore can build a long
   * index a piece per slice of the event loop. Not on a frozen index.
   */
  appendSorted(handles: ArrayLike<number>, from = 0, to = handles.length): void {
    if (this.#views > 0) throw new Error("appendSorted on a frozen index");
    let at = from;
    const last = this.#chunks.at(-1);
    if (last !== undefined && last.n < CHUNK_BUILD && at < to) {
      const end = Math.min(to, at + CHUNK_BUILD - last.n);
      last.reserve(last.n + end - at);
      for (; at < end; at++) last.a[last.n++] = handles[at]!;
      last.view = null;
      this.#maxes[this.#maxes.length - 1] = last.last();
    }
    for (; at < to; ) {
      const end = Math.min(to, at + CHUNK_BUILD);
      const a = new Uint32Array(CHUNK_BUILD);
      for (let i = at; i < end; i++) a[i - at] = handles[i]!;
      const chunk = new Chunk(a, end - at);
      this.#chunks.push(chunk);
      this.#maxes.push(chunk.last());
      at = end;
    }
    this.#size += Math.max(0, to - from);
  }

  /**
   * A separate index holding the same handles in the same order, under
   * `compare` (which must order them the same way): a copy of the chunks,
   * no comparisons.
   */
  copy(compare: HandleOrder = this.#compare): HandleIndex {
    const index = new HandleIndex(compare);
    index.#chunks = copyChunks(this.#chunks, this.#size);
    index.#maxes = this.#maxes.slice();
    index.#size = this.#size;
    return index;
  }

  get size(): number {
    return this.#size;
  }

  /** The smallest handle, or -1 when empty. */
  min(): number {
    return this.#size === 0 ? -1 : this.#chunks[0]!.a[0]!;
  }

  /** Whether `handle` is in the index (by its position in the order). */
  has(handle: number): boolean {
    if (this.#size === 0) return false;
    const ci = this.#chunkFor(handle);
    const chunk = this.#chunks[ci]!;
    const pos = this.#offsetIn(chunk, handle);
    return pos < chunk.n && chunk.a[pos] === handle;
  }

  /** Adds `handle` (which must not be in the index yet, and below 2^32). */
  insert(handle: number): void {
    if (handle >>> 0 !== handle)
      throw new Error(`Expected \`handle\` to be an integer in [0, 2^32), got ${handle}`);
    if (this.#size === 0) {
      const chunk = new Chunk(new Uint32Array(CHUNK_FIRST_ROOM), 0);
      chunk.push(handle);
      this.#chunks.push(chunk);
      this.#maxes.push(handle);
      this.#size = 1;
      return;
    }
    // Past the last handle (an enqueue at the same priority, a replay): append without searching.
    const last = this.#maxes.length - 1;
    if (this.#compare(this.#maxes[last]!, handle) < 0) {
      const tail = this.#writable(last);
      tail.push(handle);
      this.#maxes[last] = handle;
      this.#size++;
      if (tail.n > CHUNK_MAX) this.#split(last);
      return;
    }
    const ci = this.#chunkFor(handle);
    const chunk = this.#writable(ci);
    const pos = this.#offsetIn(chunk, handle);
    if (pos === chunk.n) {
      chunk.push(handle);
      this.#maxes[ci] = handle;
    } else {
      if (chunk.a[pos] === handle) throw new Error(`handle ${handle} is already in the index`);
      chunk.reserve(chunk.n + 1);
      const a = chunk.a;
      a.copyWithin(pos + 1, pos, chunk.n);
      a[pos] = handle;
      chunk.n++;
    }
    this.#size++;
    if (chunk.n > CHUNK_MAX) this.#split(ci);
  }

  /** Removes `handle`; false when it was not in the index. */
  delete(handle: number): boolean {
    if (this.#size === 0) return false;
    let ci = this.#nextChunk;
    let pos = this.#nextOffset;
    const guess = this.#chunks[ci];
    if (guess === undefined || pos >= guess.n || guess.a[pos] !== handle) {
      ci = this.#chunkFor(handle);
      const chunk = this.#chunks[ci]!;
      pos = this.#offsetIn(chunk, handle);
      if (pos >= chunk.n || chunk.a[pos] !== handle) return false;
    }
    this.#removeAt(ci, pos);
    // The next handle took the deleted one's place, or (it was its chunk's last) starts the next chunk.
    const chunk = this.#chunks[ci];
    if (chunk !== undefined && pos >= chunk.n) {
      ci++;
      pos = 0;
    }
    this.#nextChunk = ci;
    this.#nextOffset = pos;
    return true;
  }

  /** Removes and returns the smallest handle, or -1 when empty. */
  shift(): number {
    if (this.#size === 0) return -1;
    const first = this.#chunks[0]!.a[0]!;
    this.#removeAt(0, 0);
    return first;
  }

  /**
   * The position of the first handle for which `before(handle)` is false;
   * `before` must be true for a prefix of the order and false after it.
   */
  seek(before: (handle: number) => boolean): IndexPosition {
    let lo = 0;
    let hi = this.#chunks.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (before(this.#maxes[mid]!)) lo = mid + 1;
      else hi = mid;
    }
    if (lo === this.#chunks.length) return { chunk: lo, offset: 0 };
    const chunk = this.#chunks[lo]!;
    let a = 0;
    let b = chunk.n;
    while (a < b) {
      const mid = (a + b) >>> 1;
      if (before(chunk.a[mid]!)) a = mid + 1;
      else b = mid;
    }
    return { chunk: lo, offset: a };
  }

  /** The handle at `position`, advancing it; -1 past the end. */
  next(position: IndexPosition): number {
    for (;;) {
      const chunk = this.#chunks[position.chunk];
      if (chunk === undefined) return -1;
      if (position.offset < chunk.n) return chunk.a[position.offset++]!;
      position.chunk++;
      position.offset = 0;
    }
  }

  /** Every handle in order (tests and audits). */
  toArray(): number[] {
    const all: number[] = [];
    for (const chunk of this.#chunks) for (let i = 0; i < chunk.n; i++) all.push(chunk.a[i]!);
    return all;
  }

  /** The order as of now, kept while the index changes until {@link thaw}. */
  freeze(): IndexView {
    this.#shared ??= new Set();
    const views: Uint32Array[] = new Array(this.#chunks.length);
    for (let ci = 0; ci < this.#chunks.length; ci++) {
      const chunk = this.#chunks[ci]!;
      this.#shared.add(chunk);
      views[ci] = chunk.view ??= chunk.a.subarray(0, chunk.n);
    }
    this.#views++;
    return new IndexView(views, this.#size);
  }

  /** Ends a view from {@link freeze} (the last one lets chunks be changed in place again). */
  thaw(_view: IndexView): void {
    if (this.#views > 0 && --this.#views === 0) this.#shared = null;
  }

  /** Checks the chunk structure and, with `compare`, the order; returns the first problem found. */
  problems(): string | null {
    let count = 0;
    let previous = -1;
    for (let ci = 0; ci < this.#chunks.length; ci++) {
      const chunk = this.#chunks[ci]!;
      if (chunk.n === 0) return `chunk ${ci} is empty`;
      if (chunk.n > chunk.a.length) return `chunk ${ci} holds more than its room`;
      if (this.#maxes[ci] !== chunk.last()) return `chunk ${ci} has a stale maximum`;
      for (let i = 0; i < chunk.n; i++) {
        const handle = chunk.a[i]!;
        if (previous !== -1 && this.#compare(previous, handle) >= 0)
          return `handles ${previous} and ${handle} are out of order`;
        previous = handle;
        count++;
      }
    }
    return count === this.#size ? null : `size ${this.#size} but ${count} handles`;
  }

  /** Index of the chunk that holds `handle` or would: the first whose maximum is ≥ it (else the last). */
  #chunkFor(handle: number): number {
    const maxes = this.#maxes;
    let lo = 0;
    let hi = maxes.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#compare(maxes[mid]!, handle) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Offset in `chunk` of the first handle ≥ `handle` (chunk.n when none). */
  #offsetIn(chunk: Chunk, handle: number): number {
    const a = chunk.a;
    let lo = 0;
    let hi = chunk.n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#compare(a[mid]!, handle) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Chunk `ci`, to be changed: a copy when a frozen view still reads it. */
  #writable(ci: number): Chunk {
    const chunk = this.#chunks[ci]!;
    if (this.#shared === null || !this.#shared.has(chunk)) {
      chunk.view = null;
      return chunk;
    }
    this.#shared.delete(chunk);
    const copy = chunk.copy();
    this.#chunks[ci] = copy;
    return copy;
  }

  #removeAt(ci: number, pos: number): void {
    const chunk = this.#writable(ci);
    if (pos < chunk.n - 1) chunk.a.copyWithin(pos, pos + 1, chunk.n);
    chunk.n--;
    this.#size--;
    if (chunk.n === 0) {
      this.#chunks.splice(ci, 1);
      this.#maxes.splice(ci, 1);
      return;
    }
    this.#maxes[ci] = chunk.last();
    if (chunk.n < CHUNK_MIN) this.#mergeSmall(ci);
  }

  #split(ci: number): void {
    const chunk = this.#chunks[ci]!;
    const half = chunk.n >>> 1;
    // The upper half gets full room: it is the tail that appends go on growing.
    const upper = new Chunk(new Uint32Array(CHUNK_MAX + 1), chunk.n - half);
    upper.a.set(chunk.a.subarray(half, chunk.n));
    chunk.n = half;
    this.#chunks.splice(ci + 1, 0, upper);
    this.#maxes.splice(ci, 1, chunk.last(), upper.last());
  }

  /** Merges small chunk `ci` into a neighbour when the two fit in one chunk. */
  #mergeSmall(ci: number): void {
    const chunk = this.#chunks[ci]!;
    const next = this.#chunks[ci + 1];
    if (next !== undefined && chunk.n + next.n <= CHUNK_MAX) {
      const merged = this.#writable(ci);
      merged.reserve(merged.n + next.n);
      merged.a.set(next.a.subarray(0, next.n), merged.n);
      merged.n += next.n;
      this.#shared?.delete(next);
      this.#chunks.splice(ci + 1, 1);
      this.#maxes.splice(ci, 2, merged.last());
      return;
    }
    const previous = this.#chunks[ci - 1];
    if (previous !== undefined && previous.n + chunk.n <= CHUNK_MAX) {
      const merged = this.#writable(ci - 1);
      merged.reserve(merged.n + chunk.n);
      merged.a.set(chunk.a.subarray(0, chunk.n), merged.n);
      merged.n += chunk.n;
      this.#shared?.delete(chunk);
      this.#chunks.splice(ci, 1);
      this.#maxes.splice(ci - 1, 2, merged.last());
    }
  }
}
