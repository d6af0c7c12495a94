/**
 * The chunks of a {@link HandleIndex}: sorted runs of handles in a
 * `Uint32Array` each (off the JS heap), grown by doubling.
 */

/** A chunk splits in two above this many handles. */
export const CHUNK_MAX = 512;
/** A chunk below this many handles is merged into a neighbour when they fit in one. */
export const CHUNK_MIN = 64;
/** Chunk size when building from a sorted list (room to grow before the first split). */
export const CHUNK_BUILD = 384;
/** Room of a new chunk's array (64 bytes: the most V8 keeps on its heap). */
export const CHUNK_FIRST_ROOM = 16;

/** A chunk: its handles are `a[0..n)`. */
export class Chunk {
  /**
   * `a.subarray(0, n)` as of the last freeze, while the chunk has not
   * changed since (a shared chunk never changes: it is copied instead).
   */
  view: Uint32Array | null = null;
  constructor(
    public a: Uint32Array,
    public n: number,
  ) {}

  /** Room for at least `room` handles (at most {@link CHUNK_MAX} + 1), keeping the ones held. */
  reserve(room: number): void {
    if (room <= this.a.length) return;
    let size = Math.max(CHUNK_FIRST_ROOM, this.a.length * 2);
    while (size < room) size *= 2;
    const a = new Uint32Array(Math.min(CHUNK_MAX + 1, size));
    a.set(this.a.subarray(0, this.n));
    this.a = a;
  }

  push(handle: number): void {
    if (this.n === this.a.length) this.reserve(this.n + 1);
    this.a[this.n++] = handle;
  }

  last(): number {
    return this.a[this.n - 1]!;
  }

  /** A chunk of its own holding the same handles. */
  copy(): Chunk {
    return new Chunk(this.a.slice(), this.n);
  }
}

/** Handles per shared buffer of {@link copyChunks} (64 KB: malloc'd, not a fresh mapping). */
const COPY_BLOCK = 16_384;

/**
 * Copies of `chunks` (holding `size` handles in all) in shared buffers of
 * about {@link COPY_BLOCK} handles: tens of allocations for a million
 * handles instead of one per chunk (thousands). Each copy is a subarray of
 * exactly its handles, so its first growth moves it to a buffer of its own
 * ({@link Chunk.reserve}); deletes and splits stay in its own region. A
 * shared buffer lives until none of its chunks reads it: a chunk that never
 * grows keeps at most 64 KB alive, not the whole copy.
 */
export function copyChunks(chunks: readonly Chunk[], size: number): Chunk[] {
  const copies: Chunk[] = new Array(chunks.length);
  let block = new Uint32Array(0);
  let at = 0;
  let left = size;
  for (let ci = 0; ci < chunks.length; ci++) {
    const chunk = chunks[ci]!;
    if (at + chunk.n > block.length) {
      block = new Uint32Array(Math.max(chunk.n, Math.min(COPY_BLOCK, left)));
      at = 0;
    }
    // The whole room when it fits (no subarray to make): whatever lands past
    // this chunk's handles is overwritten by the next chunks, copied after it.
    if (at + chunk.a.length <= block.length) block.set(chunk.a, at);
    else block.set(chunk.a.subarray(0, chunk.n), at);
    copies[ci] = new Chunk(block.subarray(at, at + chunk.n), chunk.n);
    at += chunk.n;
    left -= chunk.n;
  }
  return copies;
}
