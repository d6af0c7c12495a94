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

/**
 * Copies of `chunks` (holding `size` handles in all) in one buffer: one
 * allocation instead of one per chunk (thousands for a million handles).
 * Each copy is a subarray of exactly its handles, so its first growth moves
 * it to a buffer of its own ({@link Chunk.reserve}); deletes and splits stay
 * in its own region. The shared buffer (4 bytes a handle) lives until no
 * chunk reads it: at most the size of the copy as made, held a while longer
 * by chunks that never grow.
 */
export function copyChunks(chunks: readonly Chunk[], size: number): Chunk[] {
  const all = new Uint32Array(size);
  const copies: Chunk[] = new Array(chunks.length);
  let at = 0;
  for (let ci = 0; ci < chunks.length; ci++) {
    const chunk = chunks[ci]!;
    all.set(chunk.a.subarray(0, chunk.n), at);
    copies[ci] = new Chunk(all.subarray(at, at + chunk.n), chunk.n);
    at += chunk.n;
  }
  return copies;
}
