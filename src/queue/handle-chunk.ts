/**
 * One chunk of a {@link HandleIndex}: a run of job handles in a typed array,
 * `items[lo..hi)`. The handles live in the array buffer's memory outside the
 * JavaScript heap, so a garbage collection copies and traces one small
 * object per chunk, not one slot per handle (a plain array of a million
 * numbers is 8 MB that every young-generation collection it survives copies).
 *
 * Removing the first handle moves the start instead of the rest (taking jobs
 * in order removes from the front); the room in front is reused by an insert
 * there, or reclaimed when the end runs out of room. The array grows by
 * doubling, up to `max` handles, and shrinks to twice its handles when under
 * a quarter full. A chunk with room for at most {@link SMALL_ROOM} handles
 * keeps them in a plain array instead: a typed array brings fixed objects
 * (the view, its buffer, the buffer's store) that outweigh a few handles,
 * and many indexes hold one or two (one per group).
 */

/** Room of a new chunk that is not built whole. */
const FIRST_ROOM = 8;
/** Most room a plain-array chunk has; past it the handles move to a typed array. */
const SMALL_ROOM = 32;

/** Handles are row numbers: non-negative and below 2^31. */
const isRow = (handle: number) => (handle | 0) === handle && handle >= 0;

function room(size: number): number[] | Uint32Array {
  return size <= SMALL_ROOM ? new Array<number>(size).fill(0) : new Uint32Array(size);
}

export class HandleChunk {
  items: number[] | Uint32Array;
  lo = 0;
  hi = 0;

  constructor(size: number) {
    this.items = room(size);
  }

  /** A chunk of `handles[from..to)` with room for `room` (at least their number). */
  static of(handles: ArrayLike<number>, from: number, to: number, room: number): HandleChunk {
    const chunk = new HandleChunk(Math.max(room, to - from));
    const items = chunk.items;
    for (let i = from; i < to; i++) items[i - from] = handles[i]!;
    chunk.hi = to - from;
    return chunk;
  }

  /** A chunk of one handle, with no room to spare (many indexes never hold a second). */
  static one(handle: number): HandleChunk {
    const chunk = new HandleChunk(1);
    chunk.items[0] = handle;
    chunk.hi = 1;
    return chunk;
  }

  get length(): number {
    return this.hi - this.lo;
  }

  /** The handle at `offset` (0 ≤ offset < length). */
  at(offset: number): number {
    return this.items[this.lo + offset]!;
  }

  first(): number {
    return this.items[this.lo]!;
  }

  last(): number {
    return this.items[this.hi - 1]!;
  }

  /** A copy with the same room (copy-on-write of a chunk a frozen view reads). */
  copy(): HandleChunk {
    return HandleChunk.of(this.items, this.lo, this.hi, this.items.length);
  }

  push(handle: number, max: number): void {
    if (this.hi === this.items.length) this.#room(max);
    this.items[this.hi++] = handle;
  }

  /** Inserts `handle` at `offset` (0 ≤ offset ≤ length), moving the handles after it. */
  insertAt(offset: number, handle: number, max: number): void {
    if (offset === 0 && this.lo > 0) {
      this.items[--this.lo] = handle;
      return;
    }
    if (this.hi === this.items.length) this.#room(max);
    const at = this.lo + offset;
    this.items.copyWithin(at + 1, at, this.hi);
    this.items[at] = handle;
    this.hi++;
  }

  /** Removes the handle at `offset` (0 ≤ offset < length). */
  removeAt(offset: number): void {
    if (offset === 0) this.lo++;
    else {
      const at = this.lo + offset;
      if (at < this.hi - 1) this.items.copyWithin(at, at + 1, this.hi);
      this.hi--;
    }
    if (this.lo === this.hi) this.lo = this.hi = 0;
    const length = this.hi - this.lo;
    if (this.items.length > FIRST_ROOM && length < this.items.length >>> 2) this.#move(length * 2);
  }

  /** Moves the upper half into a new chunk (room `max`). */
  splitUpper(max: number): HandleChunk {
    const middle = this.lo + (this.length >>> 1);
    const upper = HandleChunk.of(this.items, middle, this.hi, max);
    this.hi = middle;
    return upper;
  }

  /** Appends every handle of `other`. */
  append(other: HandleChunk, max: number): void {
    for (let k = other.lo; k < other.hi; k++) this.push(other.items[k]!, max);
  }

  /** The handles in order (tests and audits). */
  toArray(): number[] {
    return Array.from(this.items.slice(this.lo, this.hi));
  }

  /** Why the chunk's handles are not all row numbers, or null (audits). */
  problems(): string | null {
    for (let k = this.lo; k < this.hi; k++)
      if (!isRow(this.items[k]!)) return `handle ${this.items[k]} is not a row number`;
    return null;
  }

  /** Room at the end: the free room in front when there is any, else a larger array. */
  #room(max: number): void {
    if (this.lo > 0) {
      this.items.copyWithin(0, this.lo, this.hi);
      this.hi -= this.lo;
      this.lo = 0;
      return;
    }
    const size = Math.max(FIRST_ROOM, Math.min(max, this.items.length * 2));
    if (size <= this.items.length) throw new Error("handle chunk is full");
    this.#move(size);
  }

  /** Moves the handles to the start of a new array of room `size` (at least their number). */
  #move(size: number): void {
    const items = room(Math.max(FIRST_ROOM, size));
    for (let k = this.lo; k < this.hi; k++) items[k - this.lo] = this.items[k]!;
    this.hi -= this.lo;
    this.lo = 0;
    this.items = items;
  }
}
