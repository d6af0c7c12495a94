/**
 * The id index's buffers (see {@link IdIndex}): small open-addressing tables
 * of (hash, handle + 1) pairs, each holding at most {@link BUFFER_MAX}
 * entries in twice as many slots, so a lookup probes one of them in a few
 * steps instead of flushing it. A slot is chosen by the hash's top bits,
 * which also choose the index's shard: walking the slots in order visits
 * the shards in order, so a buffer is made shard by shard, one or two
 * entries per later add or removal.
 */
import { readIdBytes } from "./ids.js";
import { ID_BYTES, type JobTable, slot } from "./table.js";

/** Entries a buffer takes before it is made. */
export const BUFFER_MAX = 16_384;
const SLOT_BITS = 15;
/** Slots of a buffer: twice its most entries, so it is never more than half full. */
export const BUFFER_SLOTS = 1 << SLOT_BITS;
const MASK = BUFFER_SLOTS - 1;
/** The handle word of an entry taken back before it was made (probing passes over it). */
export const GONE = 0xffffffff;

/** Whether row `h` holds the 16 id bytes at `key[offset..]`. */
export function rowHasId(table: JobTable, h: number, key: Uint8Array, offset: number): boolean {
  const id = table.read(h).id;
  const at = slot(h) * ID_BYTES;
  for (let i = 0; i < ID_BYTES; i++) if (id[at + i] !== key[offset + i]) return false;
  return true;
}

/** The error for row `h`, added as new while its id was indexed already (a broken caller). */
export function duplicateNewId(table: JobTable, h: number): Error {
  const id = readIdBytes(table.read(h).id, slot(h) * ID_BYTES);
  return new Error(`job ${id} (row ${h}) was added as new but is indexed already`);
}

export class IdBuffer {
  /** Two words per slot: the id's hash, then handle + 1 (0: free; {@link GONE}: taken back). */
  readonly words = new Uint32Array(2 * BUFFER_SLOTS);
  /** Slots taken, taken-back ones included. */
  used = 0;
  /** Entries not taken back and not made yet. */
  live = 0;

  get full(): boolean {
    return this.used >= BUFFER_MAX;
  }

  insert(h: number, hash: number): void {
    const w = this.words;
    let i = hash >>> (32 - SLOT_BITS);
    while (w[2 * i + 1] !== 0) i = (i + 1) & MASK;
    w[2 * i] = hash;
    w[2 * i + 1] = h + 1;
    this.used++;
    this.live++;
  }

  /** Handle of the live entry at slot `from` or later whose row holds the id `key[offset..]`, or -1. */
  find(table: JobTable, hash: number, key: Uint8Array, offset: number, from: number): number {
    const w = this.words;
    for (let i = hash >>> (32 - SLOT_BITS); ; i = (i + 1) & MASK) {
      const entry = w[2 * i + 1]!;
      if (entry === 0) return -1;
      if (
        i >= from &&
        entry !== GONE &&
        w[2 * i] === hash &&
        rowHasId(table, entry - 1, key, offset)
      )
        return entry - 1;
    }
  }

  /** Slot of the live entry (`h`, `hash`) at slot `from` or later, or -1. */
  slotOf(h: number, hash: number, from: number): number {
    const w = this.words;
    for (let i = hash >>> (32 - SLOT_BITS); ; i = (i + 1) & MASK) {
      const entry = w[2 * i + 1]!;
      if (entry === 0) return -1;
      if (i >= from && entry === h + 1 && w[2 * i] === hash) return i;
    }
  }

  /**
   * Takes back the live entry (`h`, `hash`) at slot `from` or later; false
   * when there is none. Throws {@link duplicateNewId} when another live entry
   * there holds the same id (one added as new twice: the probe passes over
   * it anyway, and only an equal 32-bit hash reads its row).
   */
  takeBack(table: JobTable, h: number, hash: number, from: number): boolean {
    const w = this.words;
    let taken = false;
    for (let i = hash >>> (32 - SLOT_BITS); ; i = (i + 1) & MASK) {
      const entry = w[2 * i + 1]!;
      if (entry === 0) return taken;
      if (i < from || entry === GONE || w[2 * i] !== hash) continue;
      if (entry === h + 1 && !taken) {
        w[2 * i + 1] = GONE;
        this.live--;
        taken = true;
      } else if (rowHasId(table, entry - 1, table.read(h).id, slot(h) * ID_BYTES))
        throw duplicateNewId(table, entry - 1);
    }
  }

  clear(): void {
    this.words.fill(0);
    this.used = 0;
    this.live = 0;
  }
}
