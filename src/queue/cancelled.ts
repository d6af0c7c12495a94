/**
 * Tombstones of cancelled jobs: what is left of a job a cancel removed, so
 * that `waitForCompletion` answers "cancelled" and `attemptHistory` shows how
 * it ended after the fact, until the queue's `resultRetentionMs` passes.
 * Changed only by `apply` (a cancel that carries its time adds one, an
 * enqueue reusing the id and a retention sweep drop them) and a restore.
 *
 * Why one string per tombstone: a queue may hold a million of them. Each is
 * one latin1 string (one char per byte), which the garbage collector does not
 * look inside, holding
 *
 *     8 bytes cancel time, big-endian | varint queue index |
 *     varint id bytes, id (UTF-8) | the encoded attempt history (`history.ts`)
 *
 * so no payload, headers or object per tombstone are kept. The strings sort
 * by cancel time first: per queue they are the keys of a B+ tree, whose
 * smallest key is the next to expire, and whose O(1) copy-on-write clone is
 * the frozen list a checkpoint encodes in slices. A map from public id to the
 * string finds one by id.
 */
import { BTree, compareStrings } from "../util/btree.js";
import { asBuffer, ByteReader, ByteWriter, DecodeError, prefixedBytes } from "./binary.js";
import { latin1Slice } from "./buffer-codecs.js";
import { decodeHistory, type EncodedHistory, readHistory, skipHistory } from "./history.js";
import type { JobAttempt } from "./types.js";

/** A cancelled job as its tombstone keeps it. */
export interface Tombstone {
  /** Its public id (the caller's `jobId`, else its generated id). */
  readonly id: string;
  /** Index of its queue (`State.queueList`). */
  readonly queue: number;
  /** When it was cancelled (wall time of the cancel record). */
  readonly at: number;
  readonly history: JobAttempt[];
}

/** A frozen copy of every tombstone, as a checkpoint encodes them. */
export interface CancelledView {
  readonly size: number;
  /** Bytes of the entries as a checkpoint writes them (see {@link entryBytes}). */
  readonly encodedBytes: number;
  /** The encoded tombstones, queue by queue, oldest first. */
  entries(): IterableIterator<string>;
}

const TIME_BYTES = 8;
/** Maps the ids are spread over (a power of two). */
const ID_SHARDS = 64;
const TWO_32 = 2 ** 32;
/** What a sweep's walk over a queue's tree tells it to do with each key (see `BTree.editRange`). */
const DELETE = { delete: true } as const;
const DELETE_AND_STOP = { delete: true, break: true } as const;
const STOP = { break: true } as const;

/** Bytes one entry takes in a checkpoint: length-prefixed. */
function entryBytes(entry: string): number {
  return prefixedBytes(entry.length);
}

/** The cancel time of an encoded tombstone (its first 8 bytes, big-endian). */
function timeOf(entry: string): number {
  let high = 0;
  for (let k = 0; k < 4; k++) high = high * 256 + entry.charCodeAt(k);
  let low = 0;
  for (let k = 4; k < TIME_BYTES; k++) low = low * 256 + entry.charCodeAt(k);
  return high * TWO_32 + low;
}

function readerOf(entry: string): ByteReader {
  return new ByteReader(Buffer.from(entry, "latin1"), TIME_BYTES);
}

/** Encodes a tombstone (see the module comment). */
export function encodeTombstone(
  id: string,
  queue: number,
  at: number,
  history: EncodedHistory,
): string {
  // Made from bytes in one go: a `+` of strings would leave a tree of pieces
  // (the id and history among them) for the state to keep, several objects
  // per tombstone for the collector to copy and trace.
  const w = new ByteWriter(TIME_BYTES + 40 + history.length);
  const high = Math.floor(at / TWO_32);
  const low = at - high * TWO_32;
  for (const half of [high, low])
    for (let shift = 24; shift >= 0; shift -= 8) w.u8((half >>> shift) & 0xff);
  w.varint(queue);
  w.string(id);
  w.latin1(history);
  const bytes = w.finish();
  return latin1Slice(asBuffer(bytes), 0, bytes.byteLength);
}

/** Decodes a tombstone, checking it whole. Throws {@link DecodeError}. */
export function decodeTombstone(entry: string): Tombstone {
  if (entry.length < TIME_BYTES) throw new DecodeError("cancelled-job tombstone is truncated");
  const r = readerOf(entry);
  const queue = r.varint();
  const id = r.string();
  const history = decodeHistory(readHistory(r));
  if (r.remaining !== 0)
    throw new DecodeError(`${r.remaining} bytes after a cancelled job's history`);
  return { id, queue, at: timeOf(entry), history };
}

/** The varint of `entry` at `at` (as `ByteWriter.varint` writes it) and where it ends. */
function varintAt(entry: string, at: number): { value: number; end: number } {
  let value = 0;
  let scale = 1;
  for (let k = at; ; k++) {
    const byte = entry.charCodeAt(k);
    value += (byte & 0x7f) * scale;
    if (byte < 0x80) return { value, end: k + 1 };
    scale *= 128;
  }
}

/**
 * Queue index and id of an encoded tombstone (no history decoded). Read off
 * the string itself: a sweep takes thousands at a time, and an ASCII id (a
 * generated one always) is the same string in latin1 as in UTF-8.
 */
function keyOf(entry: string): { queue: number; id: string } {
  const queue = varintAt(entry, TIME_BYTES);
  const length = varintAt(entry, queue.end);
  const id = entry.slice(length.end, length.end + length.value);
  for (let k = 0; k < id.length; k++)
    if (id.charCodeAt(k) >= 0x80)
      return { queue: queue.value, id: Buffer.from(id, "latin1").toString("utf8") };
  return { queue: queue.value, id };
}

export class CancelledJobs {
  /**
   * Public id → encoded tombstone, in {@link ID_SHARDS} maps by a hash of
   * the id: a map rehashes all its entries at once when it grows, which at
   * a million entries is one step of tens of milliseconds.
   */
  readonly #byId: Map<string, string>[] = Array.from({ length: ID_SHARDS }, () => new Map());
  #size = 0;
  /** Per queue index, its tombstones as keys, oldest cancel first. */
  readonly #byQueue = new Map<number, BTree<string, undefined>>();
  #encodedBytes = 0;

  get size(): number {
    return this.#size;
  }

  /** Whether a job with public id `id` was cancelled (and is remembered). */
  has(id: string): boolean {
    return this.#shard(id).has(id);
  }

  /** The tombstone of public id `id`, decoded, or undefined. */
  get(id: string): Tombstone | undefined {
    const entry = this.#shard(id).get(id);
    return entry === undefined ? undefined : decodeTombstone(entry);
  }

  /** Remembers the cancel of job `id` of queue `queue` at `at`, replacing any tombstone of that id. */
  add(id: string, queue: number, at: number, history: EncodedHistory): void {
    // One hash of the id for the lookup of an older tombstone and the insert.
    const shard = this.#shard(id);
    const old = shard.get(id);
    if (old !== undefined) this.#forget(shard, id, old);
    this.#insert(shard, id, queue, encodeTombstone(id, queue, at, history));
  }

  /** Forgets the tombstone of `id` (its id is in use again); whether there was one. */
  delete(id: string): boolean {
    const shard = this.#shard(id);
    const entry = shard.get(id);
    if (entry === undefined) return false;
    this.#forget(shard, id, entry);
    return true;
  }

  #forget(shard: Map<string, string>, id: string, entry: string): void {
    shard.delete(id);
    this.#size--;
    this.#byQueue.get(keyOf(entry).queue)?.delete(entry);
    this.#encodedBytes -= entryBytes(entry);
  }

  /** Cancel time of the oldest tombstone of queue `queue`, or undefined when it has none. */
  oldestAt(queue: number): number | undefined {
    const first = this.#byQueue.get(queue)?.minKey();
    return first === undefined ? undefined : timeOf(first);
  }

  /** Drops, oldest first, up to `limit` tombstones of queue `queue` cancelled before `before`. */
  sweep(queue: number, before: number, limit: number): void {
    const tree = this.#byQueue.get(queue);
    const first = tree?.minKey();
    if (tree === undefined || first === undefined || !(limit > 0)) return;
    // One walk from the oldest that deletes as it goes: a delete per key would
    // search the tree from its root each time (tens of string comparisons).
    tree.editRange(first, tree.maxKey()!, true, (entry, _value, n) => {
      if (timeOf(entry) >= before) return STOP;
      const { id } = keyOf(entry);
      this.#shard(id).delete(id);
      this.#size--;
      this.#encodedBytes -= entryBytes(entry);
      return n + 1 >= limit ? DELETE_AND_STOP : DELETE;
    });
  }

  /** A frozen view for a checkpoint: O(queues), copy-on-write (see the module comment). */
  freeze(): CancelledView {
    const trees = [...this.#byQueue.entries()]
      .sort(([a], [b]) => a - b)
      .map(([, tree]) => tree.clone());
    const size = this.size;
    const encodedBytes = this.#encodedBytes;
    return {
      size,
      encodedBytes,
      *entries() {
        for (const tree of trees) yield* tree.keys();
      },
    };
  }

  /**
   * Adds the encoded tombstone that `r` is at (length-prefixed, as a
   * checkpoint holds it), checking it: its queue must be below `queues`, its
   * id not seen before. Throws {@link DecodeError}.
   */
  restore(r: ByteReader, queues: number): void {
    const length = r.varint();
    const from = r.position;
    if (length < TIME_BYTES || length > r.remaining)
      throw new DecodeError("cancelled-job tombstone is truncated");
    r.skip(TIME_BYTES);
    const queue = r.varint();
    const id = r.string();
    skipHistory(r);
    if (r.position !== from + length)
      throw new DecodeError(`cancelled-job tombstone of ${JSON.stringify(id)} has a bad length`);
    const entry = latin1Slice(r.buffer, from, from + length);
    if (queue >= queues)
      throw new DecodeError(`cancelled-job tombstone names queue ${queue} of ${queues}`);
    const shard = this.#shard(id);
    if (shard.has(id))
      throw new DecodeError(`snapshot holds the tombstone of job ${JSON.stringify(id)} twice`);
    this.#insert(shard, id, queue, entry);
  }

  #shard(id: string): Map<string, string> {
    let hash = 0;
    for (let k = 0; k < id.length; k++) hash = (hash * 31 + id.charCodeAt(k)) | 0;
    return this.#byId[(hash ^ (hash >>> 16)) & (ID_SHARDS - 1)]!;
  }

  #insert(shard: Map<string, string>, id: string, queue: number, entry: string): void {
    shard.set(id, entry);
    this.#size++;
    let tree = this.#byQueue.get(queue);
    if (tree === undefined) {
      tree = new BTree<string, undefined>(undefined, compareStrings);
      this.#byQueue.set(queue, tree);
    }
    tree.set(entry, undefined, true);
    this.#encodedBytes += entryBytes(entry);
  }
}
