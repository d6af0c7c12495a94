/**
 * The WAL records after a checkpoint, as recovered: the verified batches that
 * hold them, read back one record at a time through a {@link WalCursor}. A
 * replay of hundreds of thousands of records then makes no object per record
 * that lives longer than the record's own decoding (an array of a million
 * record views would survive into the old generation and make every full
 * garbage collection of the replay trace it).
 */
import { RECORD_LENGTH_BYTES, type VerifiedWalBatch } from "./codec.js";

const NO_BYTES = new Uint8Array(0);

export class WalTail {
  readonly #batches: readonly VerifiedWalBatch[];
  /** Records in the tail. */
  readonly count: number;
  /** Encoded size of the batches that hold them (fences and dead batches excluded). */
  readonly bytes: number;

  constructor(batches: readonly VerifiedWalBatch[]) {
    this.#batches = batches;
    let count = 0;
    let bytes = 0;
    for (const batch of batches) {
      count += batch.count;
      bytes += batch.body.byteLength;
    }
    this.count = count;
    this.bytes = bytes;
  }

  /** The records of `tails`, one tail after the other, as one tail (no copy of a batch). */
  static concat(tails: readonly WalTail[]): WalTail {
    return new WalTail(tails.flatMap((tail) => tail.#batches));
  }

  /** A cursor before the first record. */
  cursor(): WalCursor {
    return new WalCursor(this.#batches);
  }

  /** Every record as a view of its batch (an array of `count` views: for tests and small tails). */
  toArray(): Uint8Array[] {
    const records: Uint8Array[] = [];
    const cursor = this.cursor();
    while (cursor.next()) records.push(cursor.body.subarray(cursor.start, cursor.end));
    return records;
  }
}

/**
 * Walks a {@link WalTail} in append order. After `next()` returns true, the
 * current record is `body[start..end)`; `body` is the whole batch (the same
 * object for every record of one batch), valid for as long as the caller
 * keeps it.
 */
export class WalCursor {
  readonly #batches: readonly VerifiedWalBatch[];
  #batch = -1;
  #left = 0;
  #view: DataView | null = null;
  /** The batch that holds the current record. */
  body: Uint8Array = NO_BYTES;
  /** Where the current record starts in {@link body}. */
  start = 0;
  /** Where it ends (exclusive); the next record's length prefix starts here. */
  end = 0;
  /** Position of the current record in the tail (0 for the first). */
  index = -1;
  /** The key of the WAL object that holds the current record. */
  key = "";
  /** Position of the current record in its batch (0 for the first). */
  indexInBatch = -1;

  constructor(batches: readonly VerifiedWalBatch[]) {
    this.#batches = batches;
  }

  /** Moves to the next record; false at the end of the tail. */
  next(): boolean {
    while (this.#left === 0) {
      const batch = this.#batches[++this.#batch];
      if (batch === undefined) {
        this.#batch = this.#batches.length;
        return false;
      }
      this.body = batch.body;
      this.key = batch.key;
      this.indexInBatch = -1;
      this.#view = new DataView(batch.body.buffer, batch.body.byteOffset, batch.body.byteLength);
      this.#left = batch.count;
      this.end = batch.recordsAt;
    }
    // The batch was verified: every length prefix and record lies inside it.
    const length = this.#view!.getUint32(this.end);
    this.start = this.end + RECORD_LENGTH_BYTES;
    this.end = this.start + length;
    this.#left--;
    this.index++;
    this.indexInBatch++;
    return true;
  }
}

/**
 * `contents` with a `records` getter that lists the tail's records as an
 * array (made anew on each read): the convenient form for tests and tools
 * reading small logs. Replay of a large log walks `tail` instead.
 */
export function withRecords<T extends { tail: WalTail }>(
  contents: T,
): T & { readonly records: Uint8Array[] } {
  return Object.defineProperty(contents, "records", {
    get: () => contents.tail.toArray(),
    enumerable: false,
  }) as T & { readonly records: Uint8Array[] };
}
