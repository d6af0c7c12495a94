/**
 * Job id → handle: a hash index over the id column of the {@link JobTable}.
 * Owns the hashing and the probing; the ids themselves stay in the table, so
 * the index holds one integer per job and no strings.
 *
 * Open addressing with linear probing (deletion by backward shift, no
 * tombstones), split into {@link SHARDS} independent tables chosen by the
 * hash's top bits: each grows on its own, so growing never rehashes more than
 * a small fraction of the jobs at once (no stall at a million jobs). Each
 * slot is two words, the entry's hash and its handle + 1 (0: free), so a probe
 * touches one cache line and compares hashes, reading an id from the table
 * only on a full match (random reads into megabytes of ids are what cost,
 * not the arithmetic).
 *
 * Removals are buffered too, as (handle, hash) pairs hashed from the row
 * while it still holds the id, and made before the next lookup or add, shard
 * by shard: a flow of 10,000 jobs removed in one turn probes no shard of a
 * million-job index 10,000 times at random there. Buffered adds are indexed
 * before a removal is buffered, so a buffered removal always names an
 * indexed entry (by its handle, which a new job may have taken since: the
 * removal is made first when buffers are emptied). The cost moves to that
 * next lookup, which may be a read (`getJob`): at most a full buffer of
 * removals and one of adds, made shard by shard.
 *
 * Keys are the 16-byte binary ids of the id column. (Caller-chosen ids of
 * another form would hash their own bytes the same way and compare against
 * wherever the table keeps them.)
 */
import { ID_BYTES, type JobTable, slot } from "./table.js";

const SHARD_BITS = 8;
/**
 * New ids buffered before they are indexed in one pass, shard by shard.
 * Above a flow's most jobs (10,000, `MAX_FLOW_JOBS`): the commit of a
 * flow whose parents are all new looks up no id, and leaves the indexing of
 * its ids to the next lookup's turn (a flush of up to this many, 2–3 ms on
 * a quiet machine). Removals are buffered up to as many: with both buffers
 * full, the lookup that makes them (a `getJob` too) took 5–55 ms at a load
 * of 6–10 on 2 cores, where the removing turn used to pay for its own.
 */
const PENDING_MAX = 16_384;
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
  /** Per shard, two words per slot: the id's hash, then handle + 1 (0 in a free slot). */
  readonly #shards: Uint32Array[] = [];
  readonly #counts = new Int32Array(SHARDS);
  /** Rows added with {@link addNew} and not indexed yet: (handle, hash) pairs. */
  readonly #pending = new Uint32Array(2 * PENDING_MAX);
  #pendingCount = 0;
  /** Rows removed and still indexed: (handle, hash) pairs, removed before the pending adds. */
  #removals: Uint32Array | null = null;
  #removalCount = 0;

  constructor(table: JobTable) {
    this.#table = table;
    for (let i = 0; i < SHARDS; i++) this.#shards.push(new Uint32Array(2 * INITIAL_SHARD_SLOTS));
  }

  /** The handle of the job whose binary id is `key[offset..offset+16)`, or -1. */
  find(key: Uint8Array, offset = 0): number {
    if (this.#pendingCount > 0 || this.#removalCount > 0) this.#flush();
    const hash = hashId(key, offset);
    const shard = this.#shards[hash >>> (32 - SHARD_BITS)]!;
    const mask = (shard.length >>> 1) - 1;
    for (let i = hash & mask; ; i = (i + 1) & mask) {
      const entry = shard[2 * i + 1]!;
      if (entry === 0) return -1;
      if (shard[2 * i] === hash && this.#idEquals(entry - 1, key, offset)) return entry - 1;
    }
  }

  /** Indexes job `h` by the id in its row. False (nothing changed) when that id is indexed already. */
  add(h: number): boolean {
    if (this.#pendingCount > 0 || this.#removalCount > 0) this.#flush();
    return this.addHashed(h, hashId(this.#table.read(h).id, slot(h) * ID_BYTES));
  }

  /**
   * Indexes job `h`, whose id the caller knows is indexed nowhere yet (it is
   * newer than every id so far). Buffered: a run of new ids (a replay, a
   * batch) is indexed in one pass, shard by shard, before the next lookup.
   */
  addNew(h: number): void {
    const at = 2 * this.#pendingCount++;
    this.#pending[at] = h;
    this.#pending[at + 1] = hashId(this.#table.read(h).id, slot(h) * ID_BYTES);
    if (this.#pendingCount === PENDING_MAX) this.#flush();
  }

  /** Indexes the buffered new ids, grouped by shard so each shard is filled while in the cache. */
  #flush(): void {
    if (this.#removalCount > 0) this.#flushRemovals();
    const count = this.#pendingCount;
    const pending = this.#pending;
    this.#pendingCount = 0;
    if (count < 64) {
      for (let k = 0; k < 2 * count; k += 2) this.#addNewHashed(pending[k]!, pending[k + 1]!);
      return;
    }
    const starts = new Uint32Array(SHARDS + 1);
    for (let k = 1; k < 2 * count; k += 2) starts[(pending[k]! >>> (32 - SHARD_BITS)) + 1]!++;
    for (let s = 0; s < SHARDS; s++) starts[s + 1]! += starts[s]!;
    const order = new Uint32Array(count);
    for (let k = 0; k < count; k++) order[starts[pending[2 * k + 1]! >>> (32 - SHARD_BITS)]!++] = k;
    for (let k = 0; k < count; k++) {
      const e = 2 * order[k]!;
      this.#addNewHashed(pending[e]!, pending[e + 1]!);
    }
  }

  #addNewHashed(h: number, hash: number): void {
    if (!this.addHashed(h, hash))
      throw new Error(`id of row ${h} was added as new but is indexed already`);
  }

  /**
   * Removes job `h` (by the id in its row, which must not have changed
   * since {@link add}), once per indexed job: the size counts buffered
   * removals as made, so removing one twice would under-count it. Buffered:
   * made before the next lookup or add.
   */
  remove(h: number): void {
    if (this.#pendingCount > 0) this.#flush();
    this.#removals ??= new Uint32Array(2 * PENDING_MAX);
    const at = 2 * this.#removalCount++;
    this.#removals[at] = h;
    this.#removals[at + 1] = hashId(this.#table.read(h).id, slot(h) * ID_BYTES);
    if (this.#removalCount === PENDING_MAX) this.#flushRemovals();
  }

  /** Makes the buffered removals, grouped by shard as {@link #flush} groups adds. */
  #flushRemovals(): void {
    const count = this.#removalCount;
    const removals = this.#removals!;
    this.#removalCount = 0;
    if (count < 64) {
      for (let k = 0; k < 2 * count; k += 2) this.#removeHashed(removals[k]!, removals[k + 1]!);
      return;
    }
    const starts = new Uint32Array(SHARDS + 1);
    for (let k = 1; k < 2 * count; k += 2) starts[(removals[k]! >>> (32 - SHARD_BITS)) + 1]!++;
    for (let s = 0; s < SHARDS; s++) starts[s + 1]! += starts[s]!;
    const order = new Uint32Array(count);
    for (let k = 0; k < count; k++)
      order[starts[removals[2 * k + 1]! >>> (32 - SHARD_BITS)]!++] = k;
    for (let k = 0; k < count; k++) {
      const e = 2 * order[k]!;
      this.#removeHashed(removals[e]!, removals[e + 1]!);
    }
  }

  /** Removes the entry of row `h`, whose id hashed to `hash` (none: nothing to do). */
  #removeHashed(h: number, hash: number): void {
    const s = hash >>> (32 - SHARD_BITS);
    const shard = this.#shards[s]!;
    const mask = (shard.length >>> 1) - 1;
    let i = hash & mask;
    // Hash and handle: a row reused since its removal was buffered matches by handle alone.
    while (shard[2 * i + 1] !== h + 1 || shard[2 * i] !== hash) {
      if (shard[2 * i + 1] === 0) return;
      i = (i + 1) & mask;
    }
    shard[2 * i + 1] = 0;
    this.#counts[s]!--;
    // Backward shift: pull later entries of the run into the hole when that moves them closer home.
    for (let j = (i + 1) & mask; shard[2 * j + 1] !== 0; j = (j + 1) & mask) {
      const home = shard[2 * j]! & mask;
      const between = i <= j ? home > i && home <= j : home > i || home <= j;
      if (!between) {
        shard[2 * i] = shard[2 * j]!;
        shard[2 * i + 1] = shard[2 * j + 1]!;
        shard[2 * j + 1] = 0;
        i = j;
      }
    }
  }

  /**
   * Indexes rows `0..count` of a restored table at once, shard by shard: the
   * ids are hashed in row order, sorted by shard (counting sort), then each
   * shard is filled while it sits in the cache. `spent()` is asked between
   * units of work; returns the loader to continue with, or a duplicate row.
   * `more`: ids expected to be added after these (the WAL tail's enqueues),
   * room for which is made now: growing a shard later rehashes all its ids.
   */
  loader(count: number, more = 0): IdIndexLoader {
    return new IdIndexLoader(this, this.#table, count, count + more);
  }

  /**
   * Sizes an empty index for about `jobs` ids, so adding them never grows a
   * shard (a replay that knows how many records follow).
   */
  reserve(jobs: number): void {
    this.#reserve(jobs);
  }

  /** Adds row `h` whose id hashes to `hash`; false when its id is indexed already. @internal */
  addHashed(h: number, hash: number): boolean {
    const s = hash >>> (32 - SHARD_BITS);
    // Grow past 3/4 full (slots = length / 2).
    if ((this.#counts[s]! + 1) * 8 > this.#shards[s]!.length * 3) this.#grow(s);
    const shard = this.#shards[s]!;
    const mask = (shard.length >>> 1) - 1;
    const page = this.#table.read(h);
    const at = slot(h) * ID_BYTES;
    for (let i = hash & mask; ; i = (i + 1) & mask) {
      const entry = shard[2 * i + 1]!;
      if (entry === 0) {
        shard[2 * i] = hash;
        shard[2 * i + 1] = h + 1;
        this.#counts[s]!++;
        return true;
      }
      if (shard[2 * i] === hash && this.#idEquals(entry - 1, page.id, at)) return false;
    }
  }

  /** Makes room for about `jobs` ids in all, so adding them never grows a shard. */
  #reserve(jobs: number): void {
    this.reserveShards(jobs, 0, SHARDS);
  }

  /**
   * {@link reserve} for shards `from..to` only: at a million jobs the whole
   * index is 16 MiB of fresh memory, whose allocation took 8–22 ms in one
   * step, so the loader makes it a few shards at a time. @internal
   */
  reserveShards(jobs: number, from: number, to: number): void {
    const perShard = Math.ceil(jobs / SHARDS);
    let slots = INITIAL_SHARD_SLOTS;
    // Up to 3/4 full, with room for the shards that get more than their share.
    while (slots * 3 < (perShard + 4 * Math.sqrt(perShard) + 1) * 4) slots *= 2;
    for (let s = from; s < Math.min(to, SHARDS); s++)
      if (this.#shards[s]!.length < 2 * slots && this.#counts[s] === 0)
        this.#shards[s] = new Uint32Array(2 * slots);
  }

  /** Number of indexed jobs. */
  get size(): number {
    let total = this.#pendingCount - this.#removalCount;
    for (let s = 0; s < SHARDS; s++) total += this.#counts[s]!;
    return total;
  }

  #idEquals(h: number, key: Uint8Array, offset: number): boolean {
    const id = this.#table.read(h).id;
    const at = slot(h) * ID_BYTES;
    for (let i = 0; i < ID_BYTES; i++) if (id[at + i] !== key[offset + i]) return false;
    return true;
  }

  #grow(s: number): void {
    const old = this.#shards[s]!;
    const shard = new Uint32Array(old.length * 2);
    const mask = (shard.length >>> 1) - 1;
    for (let k = 0; k < old.length; k += 2) {
      if (old[k + 1] === 0) continue;
      const hash = old[k]!;
      let i = hash & mask;
      while (shard[2 * i + 1] !== 0) i = (i + 1) & mask;
      shard[2 * i] = hash;
      shard[2 * i + 1] = old[k + 1]!;
    }
    this.#shards[s] = shard;
  }
}

/** Rows hashed or inserted between two budget checks. */
const PER_CHECK = 8_192;
/** Shards sized between two budget checks while the loader makes room (1 MiB at a million jobs). */
const SHARDS_PER_CHECK = 16;

/** Bulk indexing of restored rows, in bounded steps (see {@link IdIndex.loader}). */
export class IdIndexLoader {
  readonly #index: IdIndex;
  readonly #table: JobTable;
  readonly #count: number;
  readonly #hashes: Uint32Array;
  /** Rows sorted by shard, and where each shard's rows start. */
  #byShard: Uint32Array | null = null;
  /** Next free position of each shard in {@link #byShard} while placing. */
  #fill: Uint32Array | null = null;
  readonly #starts = new Uint32Array(SHARDS + 1);
  /** Ids the index is sized for: these rows and the ones expected after them. */
  readonly #room: number;
  /** Shards sized so far (phase 0 waits for all of them). */
  #reserved = 0;
  #next = 0;
  #phase = 0;

  constructor(index: IdIndex, table: JobTable, count: number, room = count) {
    this.#index = index;
    this.#table = table;
    this.#count = count;
    this.#room = room;
    this.#hashes = new Uint32Array(count);
  }

  /**
   * Works until done or `spent()`; returns true when every row is indexed.
   * Throws `duplicate(h)`'s error when row `h` repeats an earlier id.
   */
  step(spent: () => boolean, duplicate: (h: number) => Error): boolean {
    const n = this.#count;
    while (this.#reserved < SHARDS) {
      const end = Math.min(SHARDS, this.#reserved + SHARDS_PER_CHECK);
      this.#index.reserveShards(this.#room, this.#reserved, end);
      this.#reserved = end;
      if (spent()) return false;
    }
    if (this.#phase === 0) {
      while (this.#next < n) {
        const end = Math.min(n, this.#next + PER_CHECK);
        for (let h = this.#next; h < end; h++)
          this.#hashes[h] = hashId(this.#table.read(h).id, slot(h) * ID_BYTES);
        this.#next = end;
        if (this.#next < n && spent()) return false;
      }
      this.#phase = 1;
      this.#next = 0;
    }
    if (this.#phase === 1) {
      // Counting sort by shard, in bounded steps: count, then (phase 2) place.
      const starts = this.#starts;
      while (this.#next < n) {
        const end = Math.min(n, this.#next + PER_CHECK);
        for (let h = this.#next; h < end; h++)
          starts[(this.#hashes[h]! >>> (32 - SHARD_BITS)) + 1]!++;
        this.#next = end;
        if (this.#next < n && spent()) return false;
      }
      for (let s = 0; s < SHARDS; s++) starts[s + 1]! += starts[s]!;
      this.#fill = starts.slice(0, SHARDS);
      this.#byShard = new Uint32Array(n);
      this.#phase = 2;
      this.#next = 0;
    }
    if (this.#phase === 2) {
      const fill = this.#fill!;
      const byShard = this.#byShard!;
      while (this.#next < n) {
        const end = Math.min(n, this.#next + PER_CHECK);
        for (let h = this.#next; h < end; h++)
          byShard[fill[this.#hashes[h]! >>> (32 - SHARD_BITS)]!++] = h;
        this.#next = end;
        if (this.#next < n && spent()) return false;
      }
      this.#phase = 3;
      this.#next = 0;
      if (spent()) return n === 0;
    }
    const byShard = this.#byShard!;
    while (this.#next < n) {
      const end = Math.min(n, this.#next + PER_CHECK);
      for (let k = this.#next; k < end; k++) {
        const h = byShard[k]!;
        if (!this.#index.addHashed(h, this.#hashes[h]!)) throw duplicate(h);
      }
      this.#next = end;
      if (this.#next < n && spent()) return false;
    }
    return true;
  }
}
