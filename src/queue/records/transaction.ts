/**
 * Records of the user KV store and of transactions: their shapes, and the
 * KV records' encoding (after the tag byte). A transaction nests records,
 * so the codec encodes it.
 */
import type { ByteReader, ByteWriter } from "../binary.js";
import type { EnqueueRecord } from "./enqueue.js";
import type {
  AckRecord,
  CancelRecord,
  CancelRequestRecord,
  DeadRecord,
  RetryRecord,
} from "./job.js";
import { Tag } from "./tags.js";

/** The user KV entry `key` is set to `value` (a copy the state owns). */
export interface KvPutRecord {
  readonly tag: typeof Tag.KvPut;
  readonly key: string;
  readonly value: Uint8Array;
}
/** The user KV entry `key` is removed (if it is there). */
export interface KvDeleteRecord {
  readonly tag: typeof Tag.KvDelete;
  readonly key: string;
}

/** The records a transaction may hold. */
export type TransactionOp =
  | EnqueueRecord
  | AckRecord
  | RetryRecord
  | DeadRecord
  | CancelRecord
  | CancelRequestRecord
  | KvPutRecord
  | KvDeleteRecord;

/** Tags a transaction may hold (see {@link TransactionOp}). */
export const TRANSACTION_OP_TAGS: ReadonlySet<number> = new Set([
  Tag.Enqueue,
  Tag.Ack,
  Tag.Retry,
  Tag.Dead,
  Tag.Cancel,
  Tag.CancelRequest,
  Tag.KvPut,
  Tag.KvDelete,
]);

/**
 * Several records applied together or not at all (`Queue.transaction`): each
 * acts on a different job, and `apply` checks every one against the state
 * before it changes anything.
 */
export interface TransactionRecord {
  readonly tag: typeof Tag.Transaction;
  readonly ops: readonly TransactionOp[];
}

export function writeKvPut(w: ByteWriter, rec: KvPutRecord): void {
  w.string(rec.key);
  w.bytes(rec.value);
}

export function readKvPut(r: ByteReader): KvPutRecord {
  const key = r.string();
  // A copy: the state keeps it, and must not pin the log batch it came in. Not
  // `.slice()`: on a Buffer (a batch read from a store) that is a view of it.
  return { tag: Tag.KvPut, key, value: Uint8Array.prototype.slice.call(r.bytes()) };
}
