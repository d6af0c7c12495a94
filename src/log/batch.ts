/**
 * The writer's batches: the open one that appends join, and sealed ones (a
 * WAL object's body and write token) waiting for their create and their
 * acknowledgement; when an open batch is big enough to go as one more
 * create in flight.
 */
import type { Deferred } from "./deferred.js";
import type { WalCreateOutcome } from "./wal-create.js";

/**
 * An open batch goes out as one more create in flight only from this many
 * records (see {@link isBig}).
 */
export const PIPELINE_MIN_RECORDS = 32;
/**
 * An open batch goes out as one more create in flight only from this many
 * bytes (see {@link isBig}).
 */
export const PIPELINE_MIN_BYTES = 256 * 1024;

export interface OpenBatch {
  records: Uint8Array[];
  bytes: number;
  /** Whether one append call brought the pipelining minimum by itself. */
  bigAppend: boolean;
  /**
   * Whether the store was told writes are coming for this batch (told once per
   * batch). A flag on the batch, not a reference to it kept by the writer: a
   * reference would hold the batch's records after they are durable.
   */
  hinted: boolean;
  done: Deferred<void>;
}

export interface SealedBatch {
  id: number;
  recordCount: number;
  bytes: number;
  body: Uint8Array;
  token: Uint8Array;
  done: Deferred<void>;
  /** Null until the create completes. */
  outcome: WalCreateOutcome | null;
  /** Monotonic time the create was issued. */
  issuedAt: number;
  /** Monotonic time the create completed. */
  completedAt: number;
}

/** Whether one append call of `records` records, `bytes` bytes, is worth a create of its own. */
export function isBigAppend(records: number, bytes: number): boolean {
  return records >= PIPELINE_MIN_RECORDS || bytes >= PIPELINE_MIN_BYTES;
}

/**
 * Whether `open` is worth a create of its own while others are in flight,
 * `newest` the last one sealed: when one append brought the pipelining
 * minimum by itself, or when the batch holds at least that minimum and twice
 * as much as `newest` (in records or in bytes). A steady stream gathers
 * about as much per round trip as the batch in flight holds, so it keeps to
 * one create per round trip; a load that doubles within a round trip goes
 * alongside. (As much as `newest` alone would split a steady stream over two
 * creates per round trip for good once it had split once.)
 */
export function isBig(open: OpenBatch, newest: SealedBatch | undefined): boolean {
  if (open.bigAppend) return true;
  const records = Math.max(PIPELINE_MIN_RECORDS, 2 * (newest?.recordCount ?? 0));
  const bytes = Math.max(PIPELINE_MIN_BYTES, 2 * (newest?.bytes ?? 0));
  return open.records.length >= records || open.bytes >= bytes;
}
