/**
 * The in-memory state of a queue store: the job table (columns, payload
 * arena, id index), its queues (`queue-state.ts`), schedules, KV entries and
 * cancel tombstones, and the lookups of a job by id. Changed only by `apply`
 * (and filled by a restore). A job is named by its handle, the number of its
 * row in the table; handles are reused after a job is removed, so nothing
 * outside a synchronous step keeps one without checking the job's `seq`.
 */

import { ShardedStringMap } from "../util/string-map.js";
import { ApplyHints } from "./apply-hints.js";
import { ByteArena } from "./arena.js";
import { latin1Slice } from "./buffer-codecs.js";
import { CancelledJobs } from "./cancelled.js";
import { IdIndex } from "./id-index.js";
import { idCharsInto, readIdBytes, writeIdBytes, writeIdBytesIfUlid } from "./ids.js";
import { KvMap } from "./kv-map.js";
import { NewChildren } from "./new-children.js";
import { type Orders, ordersOf } from "./orders.js";
import { type QueueIndexes, QueueState } from "./queue-state.js";
import type { TransactionRecord } from "./records/transaction.js";
import type { ScheduleTombstones } from "./schedules/tombstones.js";
import type { Schedule, StoredNextFire } from "./schedules/types.js";
import { FREE, ID_BYTES, type JobExtras, JobTable, slot } from "./table.js";
import type { PrecheckedTransaction } from "./transaction-check.js";

/** Job status as stored: small integers in the table's status column. */
export const Status = {
  Pending: 0,
  Scheduled: 1,
  Claimed: 2,
  Done: 3,
  Dead: 4,
} as const;
export type StatusCode = (typeof Status)[keyof typeof Status];

/** Header map as stored; `undefined` on a job means "no headers". */
export type Headers = Readonly<Record<string, string>>;

/** The whole in-memory state of a queue store. Changed only by `apply` (and a restore). */
export class State {
  readonly table = new JobTable();
  readonly arena = new ByteArena();
  readonly ids = new IdIndex(this.table);
  readonly orders: Orders = ordersOf(this.table);
  readonly queues = new Map<string, QueueState>();
  /** Queues by their index (the table's queue column). */
  readonly queueList: QueueState[] = [];
  /** The newest id ever issued, binary (valid while {@link #hasLastId}). */
  readonly #lastIdBytes = new Uint8Array(ID_BYTES);
  #hasLastId = false;
  /** {@link lastId} as a string, made when first asked for. */
  #lastIdString: string | null = null;
  /** The `seq` the next enqueued job gets. */
  nextSeq = 0;
  /**
   * Caller-chosen job ids (`options.jobId`) → handle, in shards: one Map of a
   * million ids grew by rehashing half of them in one turn.
   */
  readonly jobIds = new ShardedStringMap<number>();
  /**
   * Keys of offloaded payload objects whose jobs `apply` removed, oldest
   * first: the queue deletes them once the removing records are durable
   * (and after a restart, the ones replay collected). Not part of a checkpoint.
   */
  readonly payloadGarbage: string[] = [];
  /** Shared extras of jobs whose only extra is a group key, by key (see `groupOnlyExtras`). */
  readonly groupExtras = new Map<string, JobExtras>();
  /**
   * The extras the last job without other extras took at the end of an
   * attempt (see `withHistory`), shared with the next such job that ends
   * alike. Derived, not part of a checkpoint.
   */
  lastHistoryExtras: JobExtras | null = null;
  /**
   * Queues where `apply` made a waiting flow parent pending (its last child
   * ended): the queue serves their waiting claims after the commit. Not part
   * of a checkpoint.
   */
  readonly flowWoken = new Set<string>();
  /** Durable schedules by name (immutable objects: `apply` replaces them). */
  readonly schedules = new Map<string, Schedule>();
  /**
   * What listing found for each schedule object's next fire time
   * (`schedules/views.ts`): a pure function of it (schedule objects are
   * replaced, never changed), so a reader's state handed on from reopen to
   * reopen lists its schedules again without parsing and checking each cron
   * again. Not part of a checkpoint.
   */
  readonly storedNextFires = new WeakMap<Schedule, StoredNextFire>();
  /**
   * The names of {@link schedules} in listing order, as a reader's planning
   * or listing last sorted them (`schedules/views.ts`): right for as long as
   * it holds exactly the names the state holds, which a listing checks, so a
   * state handed on from reopen to reopen lists without sorting again until
   * a schedule is added or removed. Not part of a checkpoint.
   */
  scheduleOrder: readonly string[] = [];
  /** `firedUpTo` of removed schedules by name, oldest removal first (`schedules/tombstones.ts`). */
  readonly scheduleTombstones: ScheduleTombstones = new Map();
  /** Tombstones of cancelled jobs by public id, until their queue's `resultRetentionMs` passes. */
  readonly cancelled = new CancelledJobs();
  /** The user KV namespace (`kvGet`, `kvPut`, …), apart from the jobs. */
  readonly kv = new KvMap();
  /**
   * The flow children of the transaction being applied (`apply-tx.ts`),
   * empty between transactions; not part of the state. One object for the
   * state's life: with a new one per transaction, V8 dropped the optimized
   * code of the enqueue path after each (it held that object weakly).
   */
  readonly newChildren = new NewChildren();
  /** Scratch space for converting an id string to its binary form. */
  readonly #key = new Uint8Array(ID_BYTES);
  /** The id whose bytes {@link #key} holds, or null. */
  #keyOf: string | null = null;
  readonly #chars = Buffer.alloc(26);

  /** Newest id ever issued (seeds the id generator after a restart). */
  get lastId(): string | null {
    if (!this.#hasLastId) return null;
    this.#lastIdString ??= readIdBytes(this.#lastIdBytes, 0);
    return this.#lastIdString;
  }

  set lastId(id: string | null) {
    this.#hasLastId = id !== null;
    this.#lastIdString = id;
    if (id !== null) writeIdBytes(id, this.#lastIdBytes, 0);
  }

  /** Whether the binary id `bytes[at..at+16)` sorts after every id issued so far. */
  isNewestId(bytes: Uint8Array, at: number): boolean {
    if (!this.#hasLastId) return true;
    const last = this.#lastIdBytes;
    for (let k = 0; k < ID_BYTES; k++) {
      const d = bytes[at + k]! - last[k]!;
      if (d !== 0) return d > 0;
    }
    return false;
  }

  /** Records the binary id `bytes[at..at+16)` as the newest issued. */
  setLastIdBytes(bytes: Uint8Array, at: number): void {
    for (let k = 0; k < ID_BYTES; k++) this.#lastIdBytes[k] = bytes[at + k]!;
    this.#hasLastId = true;
    this.#lastIdString = null;
  }

  /**
   * The queue called `name`, created (empty, {@link QueueState.heldJob}
   * `false`) if nothing named it yet.
   */
  queue(name: string): QueueState {
    let qs = this.queues.get(name);
    if (qs === undefined) {
      qs = new QueueState(this.queueList.length, name, this.orders);
      this.queues.set(name, qs);
      this.queueList.push(qs);
    }
    return qs;
  }

  /** Adds a queue with restored indexes (a restore, in queue order). */
  restoreQueue(name: string, indexes: QueueIndexes): QueueState {
    const qs = new QueueState(this.queueList.length, name, this.orders, indexes);
    qs.heldJob = true; // unless its snapshot says otherwise
    this.queues.set(name, qs);
    this.queueList.push(qs);
    return qs;
  }

  /** Live jobs. */
  get size(): number {
    return this.table.rows;
  }

  /** Every live job's handle, in row order (audits and tools; O(rows)). */
  handles(): number[] {
    const handles: number[] = [];
    for (let h = 0; h < this.table.capacity; h++)
      if (this.table.read(h).status[slot(h)] !== FREE) handles.push(h);
    return handles;
  }

  /** The handle of the job with id `id`, or -1 (also for a string that is no job id). */
  find(id: string): number {
    const key = this.idKeyIfUlid(id);
    return key === null ? -1 : this.ids.find(key);
  }

  /** What the live path tells `apply` of the records it is about to apply; not part of the state. */
  readonly #hints = new ApplyHints();

  /**
   * Notes that the next record applied that names a job names row `h`: the
   * claim, ack and removal paths know the row, and {@link findNamed} then
   * checks it instead of probing the id index (cache misses at a million
   * jobs). Only a hint: `findNamed` checks the row's id, so a wrong or stale
   * hint costs that check and changes no outcome. With `verifiedId`, the
   * caller found job `verifiedId` in row `h` of this very state (nothing
   * applied since but the records it hints, none of which moves a job to
   * another row): a record naming that same id takes the row without
   * comparing ids (only a free row is refused).
   */
  expect(h: number, verifiedId: string | null = null): void {
    this.#hints.expect(h, verifiedId);
  }

  /**
   * Notes the 16 id bytes of each enqueue of the next transaction applied,
   * in order: made by the writer from the same ids as the record's encoding
   * (a flow's, `flow-commit.ts`), so `checkTransaction` copies them rather
   * than parsing 10,000 id strings in the commit's turn.
   */
  expectEnqueueIds(ids: Uint8Array): void {
    this.#hints.expectEnqueueIds(ids);
  }

  /** The hint of {@link expectEnqueueIds} when it holds `count` ids (used up), else null. */
  takeEnqueueIds(count: number): Uint8Array | null {
    return this.#hints.takeEnqueueIds(count);
  }

  /**
   * Tells `apply` that the next record, `pre.record` (a flow's transaction),
   * was checked in the slices before its commit (`transaction-check.ts`):
   * its check then rechecks only what the state may have changed since.
   */
  expectPrechecked(pre: PrecheckedTransaction): void {
    this.#hints.expectPrechecked(pre);
  }

  /** The hint of {@link expectPrechecked} when it is for `record` (used up), else null. */
  takePrechecked(record: TransactionRecord): PrecheckedTransaction | null {
    return this.#hints.takePrechecked(record);
  }

  /** Drops the hints of {@link expect}, {@link expectEnqueueIds} and {@link expectPrechecked} (after the records were applied). */
  forgetExpected(): void {
    this.#hints.forget();
  }

  /** {@link find} for the job a record names: the next expected row if it holds `id`. */
  findNamed(id: string): number {
    return this.#named(id, true);
  }

  /**
   * {@link findNamed} without using up the hint: what the observers read of
   * the job a record names just before `apply` finds it (by the same hint).
   */
  peekNamed(id: string): number {
    return this.#named(id, false);
  }

  #named(id: string, use: boolean): number {
    const hints = this.#hints;
    const verified = hints.verifiedNext(id);
    // A verified row is taken unless it is free (a cheap guard: its id is not compared).
    if (verified) {
      const v = hints.row(use);
      if (v >= 0 && v < this.table.capacity && this.table.read(v).status[slot(v)] !== FREE)
        return v;
    }
    const key = this.idKeyIfUlid(id);
    if (key === null) return -1;
    const h = verified ? -1 : hints.row(use);
    if (h !== -1 && this.#rowHasId(h, key)) return h;
    return this.ids.find(key);
  }

  /**
   * {@link find} with a guess of the row: `h` when it holds job `id` (no
   * probe of the id index), else the index's answer.
   */
  findGuessed(id: string, h: number): number {
    const key = this.idKeyIfUlid(id);
    if (key === null) return -1;
    if (h !== -1 && this.#rowHasId(h, key)) return h;
    return this.ids.find(key);
  }

  /** Whether row `h` holds a live job whose id is the 16 bytes `key`. */
  #rowHasId(h: number, key: Uint8Array): boolean {
    if (!(h >= 0 && h < this.table.capacity)) return false;
    const page = this.table.read(h);
    const i = slot(h);
    if (page.status[i] === FREE) return false;
    const id = page.id;
    const at = i * ID_BYTES;
    for (let k = 0; k < ID_BYTES; k++) if (id[at + k] !== key[k]) return false;
    return true;
  }

  /**
   * The 16 bytes of `id` if it is a canonical ULID, else null; in a scratch
   * buffer that the next call (or `find`) overwrites.
   */
  idKeyIfUlid(id: string): Uint8Array | null {
    if (this.#keyOf !== id) {
      this.#keyOf = null;
      if (!writeIdBytesIfUlid(id, this.#key, 0)) return null;
      this.#keyOf = id;
    }
    return this.#key;
  }

  /**
   * The handle of the job whose public id is `id` (a caller-chosen id, else
   * its generated id), or -1.
   */
  findPublic(id: string): number {
    return this.jobIds.get(id) ?? this.find(id);
  }

  /** The public id of job `h`: the caller's `jobId`, else its generated id. */
  publicIdOf(h: number): string {
    return this.table.extras(h)?.jobId ?? this.idOf(h);
  }

  /** The id of job `h` as a string (its generated id, which the log names it by). */
  idOf(h: number): string {
    idCharsInto(this.table.read(h).id, slot(h) * ID_BYTES, this.#chars);
    return latin1Slice(this.#chars, 0, 26);
  }

  /** The queue job `h` belongs to. */
  queueOf(h: number): QueueState {
    return this.queueList[this.table.read(h).queue[slot(h)]!]!;
  }

  /** The status of job `h`. */
  statusOf(h: number): StatusCode {
    return this.table.read(h).status[slot(h)] as StatusCode;
  }

  /** The payload bytes of job `h` (a copy). */
  payloadOf(h: number): Uint8Array {
    const page = this.table.read(h);
    const i = slot(h);
    const length = page.payloadLength[i]!;
    if (length === 0) return Buffer.alloc(0);
    const from = page.payloadOffset[i]!;
    return Buffer.from(this.arena.segment(page.payloadSegment[i]!).subarray(from, from + length));
  }
}
