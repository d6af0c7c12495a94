/**
 * The writer's batches: the open one that appends join, and sealed ones (a
 * WAL object's body and write token) waiting for their create and their
 * acknowledgement; when an open batch is big enough to go as one more
 * create in flight.
 */
import type { Deferred } from "./deferred.js";
import type { WalCreateOutcome } from "./wal-create.js";

/** An open batch this many records long is sealed as one more create in flight. */
export const PIPELINE_MIN_RECORDS = 32;
/** An open batch this many bytes big is sealed as one more create in flight. */
export const PIPELINE_MIN_BYTES = 256 * 1024;

export interface OpenBatch {
  records: Uint8Array[];
  bytes: number;
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
  /** Monotonic time the create completed. */
  completedAt: number;
}

/** Whether `open` is worth a create of its own while others are in flight. */
export function isBig(open: OpenBatch): boolean {
  return open.records.length >= PIPELINE_MIN_RECORDS || open.bytes >= PIPELINE_MIN_BYTES;
}
