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
 * New ids and removals are buffered ({@link IdBuffer}: small hash tables of
 * (handle, hash) pairs) and made shard by shard, one or two entries per add
 * or removal: a flow of 10,000 jobs added or removed in one turn probes no
 * shard of a million-job index 10,000 times at random there, and no turn
 * makes more buffered entries than twice its own adds and removals. A lookup
 * never makes buffered work: it probes the shard, where an entry whose
 * removal waits is passed over, then the buffered adds. An add or removal
 * that fills a buffer hands it over to be made (the pair handed over before
 * is made by then, see {@link #rate}); removals are made before the adds
 * buffered with them, so an entry is never in a shard twice, and removing an
 * add not yet made takes it back from its buffer.
 *
 * Keys are the 16-byte binary ids of the id column. (Caller-chosen ids of
 * another form would hash their own bytes the same way and compare against
 * wherever the table keeps them.)
 */
import { BUFFER_MAX, duplicateNewId, GONE, IdBuffer, rowHasId } from "./id-buffers.js";
import { ID_BYTES, type JobTable, slot } from "./table.js";

const SHARD_BITS = 8;
const SHARDS = 1 << SHARD_BITS;
/** What the buffer pair handed over is at: idle (made), its removals, or its adds. */
const Phase = { Idle: 0, Removals: 1, Adds: 2 } as const;
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
  /** Adds and removals buffered since the last hand-over (null until the first). */
  #adds: IdBuffer | null = null;
  #removals: IdBuffer | null = null;
  /** The pair handed over, being made: removals, then adds, in slot order from {@link #cursor}. */
  #makingAdds: IdBuffer | null = null;
  #makingRemovals: IdBuffer | null = null;
  #phase: number = Phase.Idle;
  /** Next slot to make of the buffer being made; the slots before it are made. */
  #cursor = 0;
  /**
   * Entries made per add or removal while a pair is being made: 1, or 2 when
   * it holds more than `BUFFER_MAX`. A buffer fills only after `BUFFER_MAX`
   * adds or removals, so the pair before it is made by then, and no turn
   * makes more than twice as many entries as it adds and removes.
   */
  #rate = 1;

  constructor(table: JobTable) {
    this.#table = table;
    for (let i = 0; i < SHARDS; i++) this.#shards.push(new Uint32Array(2 * INITIAL_SHARD_SLOTS));
  }

  /** The handle of the job whose binary id is `key[offset..offset+16)`, or -1. Makes no buffered work. */
  find(key: Uint8Array, offset = 0): number {
    return this.#find(hashId(key, offset), key, offset);
  }

  #find(hash: number, key: Uint8Array, offset: number): number {
    const shard = this.#shards[hash >>> (32 - SHARD_BITS)]!;
    const mask = (shard.length >>> 1) - 1;
    for (let i = hash & mask; ; i = (i + 1) & mask) {
      const entry = shard[2 * i + 1]!;
      if (entry === 0) break;
      if (
        shard[2 * i] === hash &&
        rowHasId(this.#table, entry - 1, key, offset) &&
        !this.#removalWaits(entry - 1, hash)
      )
        return entry - 1;
    }
    const found = this.#adds?.find(this.#table, hash, key, offset, 0) ?? -1;
    if (found !== -1 || this.#phase === Phase.Idle) return found;
    const from = this.#phase === Phase.Adds ? this.#cursor : 0;
    return this.#makingAdds!.find(this.#table, hash, key, offset, from);
  }

  /** Whether the removal of the shard's entry (`h`, `hash`) is buffered and not made yet. */
  #removalWaits(h: number, hash: number): boolean {
    const removals = this.#removals;
    if (removals !== null && removals.live > 0 && removals.slotOf(h, hash, 0) !== -1) return true;
    return (
      this.#phase === Phase.Removals && this.#makingRemovals!.slotOf(h, hash, this.#cursor) !== -1
    );
  }

  /** Indexes job `h` by the id in its row. False (nothing changed) when that id is indexed already. */
  add(h: number): boolean {
    const page = this.#table.read(h);
    const at = slot(h) * ID_BYTES;
    const hash = hashId(page.id, at);
    if (this.#find(hash, page.id, at) !== -1) return false;
    this.#buffer(h, hash);
    return true;
  }

  /**
   * Indexes job `h`, whose id the caller knows is indexed nowhere yet (it is
   * newer than every id so far): no lookup. Buffered like every add. Should
   * the id be indexed already (a broken caller), that is reported (an error
   * naming the id) when this entry is indexed, at a later add or removal or
   * {@link settle}, or earlier, by the removal of the other entry while this
   * one waits; lookups until then find one of the two. A removal of this
   * entry before it is indexed, which leaves the index as it was, can go
   * unreported.
   */
  addNew(h: number): void {
    this.#buffer(h, hashId(this.#table.read(h).id, slot(h) * ID_BYTES));
  }

  #buffer(h: number, hash: number): void {
    this.#adds ??= new IdBuffer();
    this.#adds.insert(h, hash);
    this.#step(this.#adds.full);
  }

  /**
   * Removes job `h` (by the id in its row, which must not have changed
   * since {@link add}), once per indexed job: the size counts buffered
   * removals as made, so removing one twice would under-count it. An add
   * still buffered is taken back; else the removal is buffered.
   */
  remove(h: number): void {
    const hash = hashId(this.#table.read(h).id, slot(h) * ID_BYTES);
    if (this.#takeBackAdd(h, hash)) this.#step(false);
    else {
      this.#removals ??= new IdBuffer();
      this.#removals.insert(h, hash);
      this.#step(this.#removals.full);
    }
  }

  /** Takes back the buffered add (`h`, `hash`) not made yet; false when there is none. */
  #takeBackAdd(h: number, hash: number): boolean {
    const adds = this.#adds;
    if (adds !== null && adds.live > 0 && adds.takeBack(this.#table, h, hash, 0)) return true;
    if (this.#phase === Phase.Idle) return false;
    const from = this.#phase === Phase.Adds ? this.#cursor : 0;
    return this.#makingAdds!.takeBack(this.#table, h, hash, from);
  }

  /** After an add or removal: makes one or two buffered entries; hands a full buffer over to be made. */
  #step(full: boolean): void {
    if (this.#phase !== Phase.Idle) this.#make(this.#rate);
    if (full) this.#handOver();
  }

  /** Hands the buffers over to be made, after making the pair before them (done by now, see {@link #rate}). */
  #handOver(): void {
    this.#make(Infinity);
    const adds = this.#makingAdds;
    const removals = this.#makingRemovals;
    adds?.clear();
    removals?.clear();
    this.#makingAdds = this.#adds ?? new IdBuffer();
    this.#makingRemovals = this.#removals ?? new IdBuffer();
    this.#adds = adds;
    this.#removals = removals;
    this.#phase = Phase.Removals;
    this.#cursor = 0;
    this.#rate = this.#makingAdds.live + this.#makingRemovals.live > BUFFER_MAX ? 2 : 1;
  }

  /** Makes all buffered adds and removals now (tests; a caller that wants the shards current). */
  settle(): void {
    if ((this.#adds?.used ?? 0) + (this.#removals?.used ?? 0) > 0) this.#handOver();
    this.#make(Infinity);
  }

  /** Adds and removals buffered and not made yet. @internal */
  get buffered(): number {
    let n = (this.#adds?.live ?? 0) + (this.#removals?.live ?? 0);
    if (this.#phase !== Phase.Idle) n += this.#makingAdds!.live + this.#makingRemovals!.live;
    return n;
  }

  /** Makes up to `entries` entries of the pair being made: its removals, then its adds, in slot order. */
  #make(entries: number): void {
    while (this.#phase !== Phase.Idle) {
      const removing = this.#phase === Phase.Removals;
      const buffer = removing ? this.#makingRemovals! : this.#makingAdds!;
      const w = buffer.words;
      for (; entries > 0 && buffer.live > 0; entries--) {
        let i = this.#cursor;
        while (w[2 * i + 1] === 0 || w[2 * i + 1] === GONE) i++;
        this.#cursor = i + 1;
        const entry = w[2 * i + 1]!;
        buffer.live--;
        if (removing) this.#removeHashed(entry - 1, w[2 * i]!);
        else if (!this.addHashed(entry - 1, w[2 * i]!))
          throw duplicateNewId(this.#table, entry - 1);
      }
      if (buffer.live > 0) return;
      this.#phase = removing ? Phase.Adds : Phase.Idle;
      this.#cursor = 0;
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
      if (shard[2 * i] === hash && rowHasId(this.#table, entry - 1, page.id, at)) return false;
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
    let total = (this.#adds?.live ?? 0) - (this.#removals?.live ?? 0);
    if (this.#phase !== Phase.Idle) total += this.#makingAdds!.live - this.#makingRemovals!.live;
    for (let s = 0; s < SHARDS; s++) total += this.#counts[s]!;
    return total;
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
