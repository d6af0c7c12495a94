/**
 * Job id → handle: a hash index over the id column of the {@link JobTable}.
 * Owns the hashing and the probing; the ids themselves stay in the table, so
 * the index holds one integer per job and no strings.
 *
 * Open addressing with linear probing (deletion by backward shift, no
 * tombstones), split into {@link SHARDS} independent tables chosen by the
 * hash's top bits: each grows on its own, so growing never rehashes more than
 * a small fraction of the jobs at once (no stall at a million jobs).
 *
 * Keys are the 16-byte binary ids of the id column. (Caller-chosen ids of
 * another form would hash their own bytes the same way and compare against
 * wherever the table keeps them.)
 */
import { ID_BYTES, type JobTable, slot } from "./table.js";

const SHARD_BITS = 8;
const SHARDS = 1 << SHARD_BITS;
const INITIAL_SHARD_SLOTS = 16;

/** 32-bit hash of the 16 id bytes at `bytes[offset..]`. */
export function hashId(bytes: Uint8Array, offset: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < ID_BYTES; i += 4) {
    const word =
      bytes[offset + i]! |
      (bytes[offset + i + 1]! << 8) |
      (bytes[offset + i + 2]! << 16) |
      (bytes[offset + i + 3]! << 24);
    h = Math.imul(h ^ word, 0x9e3779b1);
    h ^= h >>> 15;
  }
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

export class IdIndex {
  readonly #table: JobTable;
  /** Per shard: handle + 1 in each used slot, 0 in a free one. */
  readonly #shards: Int32Array[] = [];
  readonly #counts = new Int32Array(SHARDS);

  constructor(table: JobTable) {
    this.#table = table;
    for (let i = 0; i < SHARDS; i++) this.#shards.push(new Int32Array(INITIAL_SHARD_SLOTS));
  }

  /** The handle of the job whose binary id is `key[offset..offset+16)`, or -1. */
  find(key: Uint8Array, offset = 0): number {
    const hash = hashId(key, offset);
    const shard = this.#shards[hash >>> (32 - SHARD_BITS)]!;
    const mask = shard.length - 1;
    for (let i = hash & mask; ; i = (i + 1) & mask) {
      const entry = shard[i]!;
      if (entry === 0) return -1;
      if (this.#idEquals(entry - 1, key, offset)) return entry - 1;
    }
  }

  /** Indexes job `h` by the id in its row. False (nothing changed) when that id is indexed already. */
  add(h: number): boolean {
    const page = this.#table.read(h);
    const at = slot(h) * ID_BYTES;
    const hash = hashId(page.id, at);
    const s = hash >>> (32 - SHARD_BITS);
    let shard = this.#shards[s]!;
    if ((this.#counts[s]! + 1) * 4 > shard.length * 3) shard = this.#grow(s);
    const mask = shard.length - 1;
    for (let i = hash & mask; ; i = (i + 1) & mask) {
      const entry = shard[i]!;
      if (entry === 0) {
        shard[i] = h + 1;
        this.#counts[s]!++;
        return true;
      }
      if (this.#idEquals(entry - 1, page.id, at)) return false;
    }
  }

  /** Removes job `h` (by the id in its row, which must not have changed since {@link add}). */
  remove(h: number): void {
    const page = this.#table.read(h);
    const hash = hashId(page.id, slot(h) * ID_BYTES);
    const s = hash >>> (32 - SHARD_BITS);
    const shard = this.#shards[s]!;
    const mask = shard.length - 1;
    let i = hash & mask;
    while (shard[i] !== h + 1) {
      if (shard[i] === 0) return;
      i = (i + 1) & mask;
    }
    shard[i] = 0;
    this.#counts[s]!--;
    // Backward shift: pull later entries of the run into the hole when that moves them closer home.
    for (let j = (i + 1) & mask; shard[j] !== 0; j = (j + 1) & mask) {
      const entry = shard[j]!;
      const home = this.#home(entry - 1) & mask;
      const between = i <= j ? home > i && home <= j : home > i || home <= j;
      if (!between) {
        shard[i] = entry;
        shard[j] = 0;
        i = j;
      }
    }
  }

  /** Number of indexed jobs. */
  get size(): number {
    let total = 0;
    for (let s = 0; s < SHARDS; s++) total += this.#counts[s]!;
    return total;
  }

  #home(h: number): number {
    return hashId(this.#table.read(h).id, slot(h) * ID_BYTES);
  }

  #idEquals(h: number, key: Uint8Array, offset: number): boolean {
    const id = this.#table.read(h).id;
    const at = slot(h) * ID_BYTES;
    for (let i = 0; i < ID_BYTES; i++) if (id[at + i] !== key[offset + i]) return false;
    return true;
  }

  #grow(s: number): Int32Array {
    const old = this.#shards[s]!;
    const shard = new Int32Array(old.length * 2);
    const mask = shard.length - 1;
    for (const entry of old) {
      if (entry === 0) continue;
      let i = this.#home(entry - 1) & mask;
      while (shard[i] !== 0) i = (i + 1) & mask;
      shard[i] = entry;
    }
    this.#shards[s] = shard;
    return shard;
  }
}
