/**
 * The job table's free rows: a stack of row handles in fixed-size chunks.
 *
 * Why not one array: removing a million jobs pushes a million handles, and a
 * plain array grows by copying its whole backing store, a single step of
 * 10–20 ms on a loaded core at that size. Chunks never move once allocated.
 */
const CHUNK = 1 << 14;

export class FreeRows {
  readonly #chunks: Int32Array[] = [];
  #size = 0;

  get size(): number {
    return this.#size;
  }

  push(h: number): void {
    const c = this.#size >>> 14;
    if (c === this.#chunks.length) this.#chunks.push(new Int32Array(CHUNK));
    this.#chunks[c]![this.#size & (CHUNK - 1)] = h;
    this.#size++;
  }

  /** The row freed last, or undefined when none is free. */
  pop(): number | undefined {
    if (this.#size === 0) return undefined;
    this.#size--;
    const h = this.#chunks[this.#size >>> 14]![this.#size & (CHUNK - 1)]!;
    // Keeps one spare chunk, so a push and pop at a chunk's edge do not allocate each time.
    if ((this.#size & (CHUNK - 1)) === 0 && this.#chunks.length > (this.#size >>> 14) + 2)
      this.#chunks.pop();
    return h;
  }
}
