/**
 * The queue's log records as one union, and their binary encoding: a tag
 * byte, then the record's body as its family's file writes it. Decoded
 * payloads are views into the bytes decoded (`apply` copies them).
 */
import { asBuffer, ByteReader, ByteWriter, DecodeError } from "../binary.js";
import { readScheduleDefinition, writeScheduleDefinition } from "../schedules/codec.js";
import {
  type PauseQueueRecord,
  type PromoteRecord,
  type PromoteSomeRecord,
  readPauseQueue,
  readPromoteSome,
  readSweep,
  readSweepSome,
  type SweepCancelledRecord,
  type SweepDeadRecord,
  type SweepDoneRecord,
  type SweepSomeRecord,
  writePauseQueue,
  writePromoteSome,
  writeSweep,
  writeSweepSome,
} from "./bulk.js";
import {
  DecodedEnqueue,
  type EnqueueIdSlots,
  type EnqueueRecord,
  type ReplaceRecord,
  readEnqueue,
  readReplace,
  writeEnqueue,
  writeReplace,
} from "./enqueue.js";
import {
  type AckRecord,
  type CancelRecord,
  type CancelRequestRecord,
  type ClaimRecord,
  cancelTag,
  type DeadRecord,
  deadTag,
  type ReleaseRecord,
  type RemoveRecord,
  type RequeueDeadRecord,
  type RetryRecord,
  readAck,
  readCancelAt,
  readCancelWithError,
  readClaim,
  readDead,
  readDeadWithCause,
  readRemove,
  readRequeueDead,
  readRetry,
  type WakeRecord,
  writeAck,
  writeCancel,
  writeClaim,
  writeDead,
  writeRemove,
  writeRequeueDead,
  writeRetry,
} from "./job.js";
import type { ScheduleFireRecord, ScheduleSetRecord, UnscheduleRecord } from "./schedule.js";
import { Tag } from "./tags.js";
import {
  type KvDeleteRecord,
  type KvPutRecord,
  readKvPut,
  TRANSACTION_OP_TAGS,
  type TransactionOp,
  type TransactionRecord,
  writeKvPut,
} from "./transaction.js";

/** Every record the queue's log holds. */
export type QueueRecord =
  | KvPutRecord
  | KvDeleteRecord
  | TransactionRecord
  | EnqueueRecord
  | ClaimRecord
  | AckRecord
  | RetryRecord
  | DeadRecord
  | PromoteRecord
  | PromoteSomeRecord
  | CancelRecord
  | CancelRequestRecord
  | RequeueDeadRecord
  | SweepDoneRecord
  | SweepDeadRecord
  | ReleaseRecord
  | SweepSomeRecord
  | SweepCancelledRecord
  | WakeRecord
  | PauseQueueRecord
  | RemoveRecord
  | ScheduleSetRecord
  | UnscheduleRecord
  | ScheduleFireRecord
  | ReplaceRecord;

/** Append one record's encoding to `w`. */
export function writeRecord(w: ByteWriter, rec: QueueRecord): void {
  w.u8(rec.tag === Tag.Dead ? deadTag(rec) : rec.tag === Tag.Cancel ? cancelTag(rec) : rec.tag);
  switch (rec.tag) {
    case Tag.Enqueue:
      writeEnqueue(w, rec);
      return;
    case Tag.Claim:
      writeClaim(w, rec);
      return;
    case Tag.Ack:
      writeAck(w, rec);
      return;
    case Tag.Retry:
      writeRetry(w, rec);
      return;
    case Tag.Dead:
      writeDead(w, rec); // under Tag.DeadWithCause or DeadWithProgress when it has those
      return;
    case Tag.Promote:
      w.varint(rec.upTo);
      return;
    case Tag.Cancel:
      writeCancel(w, rec); // under Tag.CancelAt / CancelWithError when it carries its time
      return;
    case Tag.CancelRequest:
    case Tag.Release:
    case Tag.Wake:
      w.id(rec.id);
      return;
    case Tag.Remove:
      writeRemove(w, rec);
      return;
    case Tag.PauseQueue:
      writePauseQueue(w, rec);
      return;
    case Tag.RequeueDead:
      writeRequeueDead(w, rec);
      return;
    case Tag.SweepDone:
    case Tag.SweepDead:
      writeSweep(w, rec);
      return;
    case Tag.PromoteSome:
      writePromoteSome(w, rec);
      return;
    case Tag.SweepDoneSome:
    case Tag.SweepDoneNoResultSome:
    case Tag.SweepDeadSome:
    case Tag.SweepCancelledSome:
      writeSweepSome(w, rec);
      return;
    case Tag.ScheduleSet:
      writeScheduleDefinition(w, rec.schedule);
      return;
    case Tag.Unschedule:
      w.string(rec.name);
      return;
    case Tag.ScheduleFire:
      w.string(rec.name);
      w.varint(rec.fireAt);
      w.u8(rec.job === undefined ? 0 : 1);
      if (rec.job !== undefined) writeRecord(w, rec.job);
      return;
    case Tag.Replace:
      writeReplace(w, rec);
      return;
    case Tag.KvPut:
      writeKvPut(w, rec);
      return;
    case Tag.KvDelete:
      w.string(rec.key);
      return;
    case Tag.Transaction:
      w.varint(rec.ops.length);
      for (const op of rec.ops) writeTransactionOp(w, op);
      return;
  }
}

/**
 * Appends the start of a transaction record of `count` operations to `w`:
 * with each operation's {@link writeTransactionOp} after it, the bytes of
 * `writeRecord` for the whole record, written a part at a time (a large
 * flow's record is encoded in slices of the event loop before its commit).
 */
export function writeTransactionHead(w: ByteWriter, count: number): void {
  w.u8(Tag.Transaction);
  w.varint(count);
}

/**
 * Appends one operation of a transaction record to `w` (see
 * {@link writeTransactionHead}); given `slots`, an enqueue notes there where
 * its ids went (offsets into the writer's bytes).
 */
export function writeTransactionOp(w: ByteWriter, op: TransactionOp, slots?: EnqueueIdSlots): void {
  if (!TRANSACTION_OP_TAGS.has(op.tag))
    throw new Error(`a transaction cannot hold a record with tag ${op.tag}`);
  if (slots === undefined || op.tag !== Tag.Enqueue) {
    writeRecord(w, op);
    return;
  }
  w.u8(Tag.Enqueue);
  writeEnqueue(w, op, slots);
}

/** Encode one record as a standalone log record. */
export function encodeRecord(rec: QueueRecord, sizeHint = 64): Uint8Array {
  const w = new ByteWriter(sizeHint);
  writeRecord(w, rec);
  return w.finish();
}

/** Bytes of each buffer a {@link RecordEncoder} encodes records into. */
const ENCODER_CHUNK_BYTES = 64 * 1024;

/**
 * Encodes records one after another into shared buffers: each record is a
 * view of its bytes, with no buffer or writer of its own. Bytes once handed
 * out are never written again (a view stays valid for as long as it is held).
 */
export class RecordEncoder {
  readonly #w = new ByteWriter(ENCODER_CHUNK_BYTES);

  /** One record's encoding; throws (keeping nothing of it) when it cannot be stored. */
  encode(rec: QueueRecord): Uint8Array {
    try {
      writeRecord(this.#w, rec);
    } catch (error) {
      this.#w.discard();
      throw error;
    }
    return this.#w.take();
  }
}

/** Decode one log record. Throws {@link DecodeError} on malformed input. */
export function decodeRecord(bytes: Uint8Array): QueueRecord {
  const r = new ByteReader(bytes);
  const rec = readRecord(r);
  if (r.remaining !== 0) throw new DecodeError(`${r.remaining} trailing bytes after record`);
  return rec;
}

/**
 * Decodes records where they lie in larger buffers (the log's WAL batches at
 * replay): one reader and one Buffer per batch reused for every record, so a
 * record costs only the objects it decodes to. An enqueue's id and payload
 * stay views of the batch (`DecodedEnqueue` offsets count from its start).
 *
 * With `reuseEnqueues`, every top-level enqueue is decoded into the same
 * {@link DecodedEnqueue}, refilled per record, so the commonest record of a
 * replay makes no object at all. A caller that asks for it must be done with
 * a decoded enqueue before it decodes the next record (a replay hands each to
 * `apply`, which keeps nothing of the record object itself). Enqueues inside
 * a transaction or a schedule fire are new objects each.
 */
export class RecordDecoder {
  readonly #reader = new ByteReader(new Uint8Array(0));
  #batch: Uint8Array | null = null;
  #buffer: Buffer = Buffer.alloc(0);
  readonly #enqueue: DecodedEnqueue | undefined;

  constructor(options: { reuseEnqueues?: boolean } = {}) {
    this.#enqueue = options.reuseEnqueues === true ? new DecodedEnqueue() : undefined;
  }

  /** Decodes the record at `batch[start..end)`. Throws {@link DecodeError} on malformed input. */
  decode(batch: Uint8Array, start: number, end: number): QueueRecord {
    if (batch !== this.#batch) {
      this.#batch = batch;
      this.#buffer = asBuffer(batch);
    }
    const r = this.#reader;
    r.reset(this.#buffer, start, end);
    const tag = r.u8();
    const rec =
      tag === Tag.Enqueue && this.#enqueue !== undefined
        ? readEnqueue(r, this.#enqueue)
        : readBody(r, tag);
    if (r.remaining !== 0) throw new DecodeError(`${r.remaining} trailing bytes after record`);
    return rec;
  }
}

function readRecord(r: ByteReader): QueueRecord {
  return readBody(r, r.u8());
}

/** A record's body, after its tag byte. */
function readBody(r: ByteReader, tag: number): QueueRecord {
  switch (tag) {
    case Tag.Enqueue:
      return readEnqueue(r);
    case Tag.Claim:
      return readClaim(r);
    case Tag.Ack:
      return readAck(r);
    case Tag.Retry:
      return readRetry(r);
    case Tag.Dead:
      return readDead(r, false);
    case Tag.DeadWithProgress:
      return readDead(r, true);
    case Tag.DeadWithCause:
      return readDeadWithCause(r);
    case Tag.Promote:
      return { tag, upTo: r.varint() };
    case Tag.CancelAt:
      return readCancelAt(r);
    case Tag.CancelWithError:
      return readCancelWithError(r);
    case Tag.Cancel:
    case Tag.CancelRequest:
    case Tag.Release:
    case Tag.Wake:
      return { tag, id: r.id() };
    case Tag.Remove:
      return readRemove(r);
    case Tag.PauseQueue:
      return readPauseQueue(r);
    case Tag.RequeueDead:
      return readRequeueDead(r);
    case Tag.SweepDone:
    case Tag.SweepDead:
      return readSweep(r, tag);
    case Tag.PromoteSome:
      return readPromoteSome(r);
    case Tag.SweepDoneSome:
    case Tag.SweepDoneNoResultSome:
    case Tag.SweepDeadSome:
    case Tag.SweepCancelledSome:
      return readSweepSome(r, tag);
    case Tag.ScheduleSet:
      return { tag, schedule: readScheduleDefinition(r) };
    case Tag.Unschedule:
      return { tag, name: r.string() };
    case Tag.ScheduleFire: {
      const name = r.string();
      const fireAt = r.varint();
      const hasJob = r.u8();
      if (hasJob > 1) throw new DecodeError(`schedule fire job flag ${hasJob} is not 0 or 1`);
      if (hasJob === 0) return { tag, name, fireAt, job: undefined };
      const job = readRecord(r);
      if (job.tag !== Tag.Enqueue)
        throw new DecodeError(`schedule fire holds a record of tag ${job.tag}, not an enqueue`);
      return { tag, name, fireAt, job };
    }
    case Tag.Replace:
      return readReplace(r);
    case Tag.KvPut:
      return readKvPut(r);
    case Tag.KvDelete:
      return { tag, key: r.string() };
    case Tag.Transaction: {
      const count = r.varint();
      if (count > r.remaining)
        throw new DecodeError(`transaction of ${count} records is truncated`);
      const ops: TransactionOp[] = [];
      for (let k = 0; k < count; k++) {
        const op = readRecord(r);
        if (!TRANSACTION_OP_TAGS.has(op.tag))
          throw new DecodeError(`a transaction holds a record with tag ${op.tag}`);
        ops.push(op as TransactionOp);
      }
      return { tag, ops };
    }
    default:
      throw new DecodeError(`unknown record tag ${tag}`);
  }
}
