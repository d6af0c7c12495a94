/**
 * The queue's log records: their shapes, one per transition, and their binary
 * encoding. Each record carries the outcome decided on the live path.
 * Decoded payloads are views into the bytes decoded (`apply` copies them).
 */
import { asBuffer, ByteReader, ByteWriter, DecodeError } from "./binary.js";
import { ID_BYTES, readIdBytes } from "./ids.js";
import { readScheduleDefinition, writeScheduleDefinition } from "./schedules/codec.js";
import type { ScheduleDefinition } from "./schedules/types.js";
import type { Headers } from "./state.js";
import type { PayloadRef } from "./table.js";

/**
 * The queue's log records. Each carries the outcome already decided on the
 * live path (times, retry-or-dead, keep-or-delete), so replaying them never
 * consults configuration or the clock.
 */
export const Tag = {
  Enqueue: 1,
  Claim: 2,
  Ack: 3,
  Retry: 4,
  Dead: 5,
  Promote: 6,
  Cancel: 7,
  CancelRequest: 8,
  RequeueDead: 9,
  SweepDone: 10,
  SweepDead: 11,
  Release: 12,
  PromoteSome: 13,
  SweepDoneSome: 14,
  SweepDeadSome: 15,
  Wake: 16,
  PauseQueue: 17,
  Remove: 18,
  /**
   * A Dead record that carries progress (written under this tag so records
   * without it keep their earlier encoding; decoded as `Dead`).
   */
  DeadWithProgress: 19,
  ScheduleSet: 28,
  Unschedule: 29,
  ScheduleFire: 30,
  Replace: 31,
  KvPut: 21,
  KvDelete: 22,
  Transaction: 23,
} as const;

/**
 * Most jobs one bulk record (promotion, retention sweep) moves: the live path
 * splits a bulk transition into records of at most this many jobs, applied
 * one per turn of the event loop, so no single `apply` runs long.
 */
export const BULK_RECORD_JOBS = 2_048;

/** A new job: pending, or scheduled when `runAt` is set. */
export interface EnqueueRecord {
  readonly tag: typeof Tag.Enqueue;
  readonly id: string;
  readonly queue: string;
  readonly payload: Uint8Array;
  readonly headers: Headers | undefined;
  readonly priority: number;
  readonly maxAttempts: number;
  readonly enqueuedAt: number;
  readonly runAt: number | undefined;
  readonly dedupKey: string | undefined;
  /** The caller's id for the job (`options.jobId`); `id` stays the log's own. */
  readonly jobId?: string;
  /** Handler deadline under `runWorker`. */
  readonly timeoutMs?: number | undefined;
  /** The job's fairness group within its queue. */
  readonly groupKey?: string | undefined;
  /** The payload was offloaded to this object (`payload` is then empty). */
  readonly payloadRef?: PayloadRef | undefined;
  /** A flow child: the log id of its parent (an earlier enqueue of the same transaction). */
  readonly flowParent?: string | undefined;
  /** A flow parent: it waits (scheduled, unclaimable) until its children ended. */
  readonly waitsForChildren?: boolean | undefined;
}
/**
 * An enqueue record as decoded from the log: its id and payload stay in the
 * record's bytes until asked for, so a replay copies them straight into the
 * job table (no id string, no payload view per job).
 */
export class DecodedEnqueue implements EnqueueRecord {
  readonly tag: typeof Tag.Enqueue = Tag.Enqueue;
  #id: string | undefined;

  constructor(
    /** The record's bytes: the id is `bytes[idAt..idAt+16)`, the payload `bytes[payloadAt..+payloadLength)`. */
    readonly bytes: Uint8Array,
    readonly idAt: number,
    readonly payloadAt: number,
    readonly payloadLength: number,
    readonly queue: string,
    readonly headers: Headers | undefined,
    readonly priority: number,
    readonly maxAttempts: number,
    readonly enqueuedAt: number,
    readonly runAt: number | undefined,
    readonly dedupKey: string | undefined,
    readonly jobId: string | undefined,
    readonly timeoutMs: number | undefined = undefined,
    readonly payloadRef: PayloadRef | undefined = undefined,
    readonly flowParent: string | undefined = undefined,
    readonly waitsForChildren: boolean | undefined = undefined,
    readonly groupKey: string | undefined = undefined,
  ) {}

  get id(): string {
    this.#id ??= readIdBytes(this.bytes, this.idAt);
    return this.#id;
  }

  get payload(): Uint8Array {
    return this.bytes.subarray(this.payloadAt, this.payloadAt + this.payloadLength);
  }

  /** The record as a plain {@link EnqueueRecord} (what `JSON.stringify` shows). */
  toJSON(): EnqueueRecord {
    const { tag, id, queue, payload, headers, priority, maxAttempts, enqueuedAt, runAt } = this;
    return {
      tag,
      id,
      queue,
      payload,
      headers,
      priority,
      maxAttempts,
      enqueuedAt,
      runAt,
      dedupKey: this.dedupKey,
      ...(this.jobId === undefined ? {} : { jobId: this.jobId }),
      ...(this.timeoutMs === undefined ? {} : { timeoutMs: this.timeoutMs }),
      ...(this.groupKey === undefined ? {} : { groupKey: this.groupKey }),
      ...(this.payloadRef === undefined ? {} : { payloadRef: this.payloadRef }),
      ...(this.flowParent === undefined ? {} : { flowParent: this.flowParent }),
      ...(this.waitsForChildren === true ? { waitsForChildren: true } : {}),
    };
  }
}

/** Pending → claimed at `at` (attempts + 1, dedup key released). */
export interface ClaimRecord {
  readonly tag: typeof Tag.Claim;
  readonly id: string;
  readonly at: number;
}
/** Claimed → done at `at` (kept, with its `result` if any) or deleted. A result implies `keep`. */
export interface AckRecord {
  readonly tag: typeof Tag.Ack;
  readonly id: string;
  readonly keep: boolean;
  readonly at: number;
  readonly result?: Uint8Array | undefined;
  /** The handler's last progress (JSON text), kept with a kept done job. */
  readonly progress?: string | undefined;
}
/** Why a claimed job is retried, when it is not a plain failure (nack). */
export type RetryCause = "lease_expired" | "interrupted" | "timed_out";
/**
 * Claimed → pending (no `runAt`) or scheduled at `runAt`; `error` replaces
 * lastError when set. `cause` and `at` (when it happened) feed the attempt
 * history; records of earlier releases carry neither.
 */
export interface RetryRecord {
  readonly tag: typeof Tag.Retry;
  readonly id: string;
  readonly runAt: number | undefined;
  readonly error: string | undefined;
  readonly cause?: RetryCause | undefined;
  readonly at?: number | undefined;
  /** The handler's last progress (JSON text), kept with the job. */
  readonly progress?: string | undefined;
}
/** Claimed → dead at `at` with `reason` as lastError. */
export interface DeadRecord {
  readonly tag: typeof Tag.Dead;
  readonly id: string;
  readonly at: number;
  readonly reason: string;
  /** The handler's last progress (JSON text), kept with the job. Records of earlier releases carry none. */
  readonly progress?: string | undefined;
}
/** Every scheduled job (all queues) with runAt ≤ `upTo` → pending. (Written by earlier versions.) */
export interface PromoteRecord {
  readonly tag: typeof Tag.Promote;
  readonly upTo: number;
}
/** Up to `limit` scheduled jobs of `queue` with runAt ≤ `upTo`, soonest first → pending. */
export interface PromoteSomeRecord {
  readonly tag: typeof Tag.PromoteSome;
  readonly queue: string;
  readonly upTo: number;
  readonly limit: number;
}
/** Pending, scheduled or claimed → removed. */
export interface CancelRecord {
  readonly tag: typeof Tag.Cancel;
  readonly id: string;
}
/** A claimed job is flagged for cancellation. */
export interface CancelRequestRecord {
  readonly tag: typeof Tag.CancelRequest;
  readonly id: string;
}
/** Dead → pending with attempts 0, lastError and failedAt cleared. */
export interface RequeueDeadRecord {
  readonly tag: typeof Tag.RequeueDead;
  readonly id: string;
  /** When (for the attempt history); records of earlier releases carry none. */
  readonly at?: number | undefined;
}
/** Kept done jobs of `queue` completed before `before` are deleted. (Written by earlier versions.) */
export interface SweepDoneRecord {
  readonly tag: typeof Tag.SweepDone;
  readonly queue: string;
  readonly before: number;
}
/** Dead jobs of `queue` that failed before `before` are deleted. (Written by earlier versions.) */
export interface SweepDeadRecord {
  readonly tag: typeof Tag.SweepDead;
  readonly queue: string;
  readonly before: number;
}
/** Up to `limit` kept done (SweepDoneSome) or dead (SweepDeadSome) jobs of `queue` from before `before`, oldest first, are deleted. */
export interface SweepSomeRecord {
  readonly tag: typeof Tag.SweepDoneSome | typeof Tag.SweepDeadSome;
  readonly queue: string;
  readonly before: number;
  readonly limit: number;
}

/**
 * Claimed → pending, its attempt given back (attempts − 1): a claim handed
 * back before any handler ran on it (a worker's prefetched claim at shutdown).
 */
export interface ReleaseRecord {
  readonly tag: typeof Tag.Release;
  readonly id: string;
}
/** A scheduled job → pending now (`wakeScheduled`). */
export interface WakeRecord {
  readonly tag: typeof Tag.Wake;
  readonly id: string;
}
/** `queue` is paused (claims hand out nothing) or resumed. */
export interface PauseQueueRecord {
  readonly tag: typeof Tag.PauseQueue;
  readonly queue: string;
  readonly paused: boolean;
}
/** A pending, scheduled, done or dead job → removed (`removeJobs`). */
export interface RemoveRecord {
  readonly tag: typeof Tag.Remove;
  readonly id: string;
}

/** A schedule is created, or replaced (its fires so far stay accounted for). */
export interface ScheduleSetRecord {
  readonly tag: typeof Tag.ScheduleSet;
  readonly schedule: ScheduleDefinition;
}
/** A schedule is removed. */
export interface UnscheduleRecord {
  readonly tag: typeof Tag.Unschedule;
  readonly name: string;
}
/**
 * One fire of schedule `name` at `fireAt`: enqueues `job` (none when the
 * fire is skipped) and marks every fire time up to `fireAt` as accounted
 * for, in one record, so a fire time is applied once or not at all.
 */
export interface ScheduleFireRecord {
  readonly tag: typeof Tag.ScheduleFire;
  readonly name: string;
  readonly fireAt: number;
  readonly job: EnqueueRecord | undefined;
}
/**
 * A waiting (pending or scheduled) job's payload, headers and run time are
 * replaced: a debounced enqueue (`dedupReplace`) hit it. No `runAt` makes it
 * pending.
 */
export interface ReplaceRecord {
  readonly tag: typeof Tag.Replace;
  readonly id: string;
  readonly payload: Uint8Array;
  readonly headers: Headers | undefined;
  readonly runAt: number | undefined;
}

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
  | WakeRecord
  | PauseQueueRecord
  | RemoveRecord
  | ScheduleSetRecord
  | UnscheduleRecord
  | ScheduleFireRecord
  | ReplaceRecord;

const ENQ_SCHEDULED = 1;
const ENQ_DEDUP = 2;
const ENQ_HEADERS = 4;
const ENQ_JOB_ID = 8;
const ENQ_TIMEOUT = 16;
const ENQ_PAYLOAD_REF = 32;
const ENQ_GROUP = 64;
const ENQ_FLOW_PARENT = 256;
const ENQ_WAITS_FOR_CHILDREN = 512;
/** Every enqueue flag this version reads; a record with another is refused, not misread. */
const ENQ_KNOWN =
  ENQ_SCHEDULED |
  ENQ_DEDUP |
  ENQ_HEADERS |
  ENQ_JOB_ID |
  ENQ_TIMEOUT |
  ENQ_PAYLOAD_REF |
  ENQ_GROUP |
  ENQ_FLOW_PARENT |
  ENQ_WAITS_FOR_CHILDREN;
const ACK_KEEP = 1;
const ACK_RESULT = 2;
const REPLACE_RUN_AT = 1;
const REPLACE_HEADERS = 2;
const ACK_PROGRESS = 4;
const RETRY_RUN_AT = 1;
const RETRY_ERROR = 2;
const RETRY_CAUSE = 4;
const RETRY_AT = 8;
const RETRY_PROGRESS = 16;
/** Retry causes as stored; never renumber one. */
const RETRY_CAUSES: readonly RetryCause[] = ["lease_expired", "interrupted", "timed_out"];

function writeId(w: ByteWriter, id: string): void {
  w.id(id);
}

function readId(r: ByteReader): string {
  return r.id();
}

/** Header map as count + key/value strings (shared with the checkpoint format). */
export function writeHeaders(w: ByteWriter, headers: Headers): void {
  const keys = Object.keys(headers);
  w.varint(keys.length);
  for (const key of keys) {
    w.string(key);
    w.string(headers[key]!);
  }
}

export function readHeaders(r: ByteReader): Headers {
  const count = r.varint();
  const headers: Record<string, string> = Object.create(null);
  for (let i = 0; i < count; i++) {
    const key = r.string();
    headers[key] = r.string();
  }
  return headers;
}

/** Append one record's encoding to `w`. */
export function writeRecord(w: ByteWriter, rec: QueueRecord): void {
  w.u8(rec.tag === Tag.Dead && rec.progress !== undefined ? Tag.DeadWithProgress : rec.tag);
  switch (rec.tag) {
    case Tag.Enqueue: {
      writeId(w, rec.id);
      w.string(rec.queue);
      const flags =
        (rec.runAt !== undefined ? ENQ_SCHEDULED : 0) |
        (rec.dedupKey !== undefined ? ENQ_DEDUP : 0) |
        (rec.headers !== undefined ? ENQ_HEADERS : 0) |
        (rec.jobId !== undefined ? ENQ_JOB_ID : 0) |
        (rec.timeoutMs !== undefined ? ENQ_TIMEOUT : 0) |
        (rec.payloadRef !== undefined ? ENQ_PAYLOAD_REF : 0) |
        (rec.flowParent !== undefined ? ENQ_FLOW_PARENT : 0) |
        (rec.waitsForChildren === true ? ENQ_WAITS_FOR_CHILDREN : 0) |
        (rec.groupKey !== undefined ? ENQ_GROUP : 0);
      w.varint(flags);
      w.varint(rec.priority);
      w.varint(rec.maxAttempts);
      w.varint(rec.enqueuedAt);
      if (rec.runAt !== undefined) w.varint(rec.runAt);
      if (rec.dedupKey !== undefined) w.string(rec.dedupKey);
      if (rec.headers !== undefined) writeHeaders(w, rec.headers);
      if (rec.jobId !== undefined) w.string(rec.jobId);
      if (rec.timeoutMs !== undefined) w.varint(rec.timeoutMs);
      if (rec.groupKey !== undefined) w.string(rec.groupKey);
      w.bytes(rec.payload);
      if (rec.payloadRef !== undefined) {
        w.string(rec.payloadRef.key);
        w.varint(rec.payloadRef.size);
      }
      if (rec.flowParent !== undefined) w.id(rec.flowParent);
      return;
    }
    case Tag.Claim:
      writeId(w, rec.id);
      w.varint(rec.at);
      return;
    case Tag.Ack:
      writeId(w, rec.id);
      w.u8(
        (rec.keep ? ACK_KEEP : 0) |
          (rec.result !== undefined ? ACK_RESULT : 0) |
          (rec.progress !== undefined ? ACK_PROGRESS : 0),
      );
      if (rec.keep) w.varint(rec.at);
      if (rec.result !== undefined) w.bytes(rec.result);
      if (rec.progress !== undefined) w.string(rec.progress);
      return;
    case Tag.Retry:
      writeId(w, rec.id);
      w.u8(
        (rec.runAt !== undefined ? RETRY_RUN_AT : 0) |
          (rec.error !== undefined ? RETRY_ERROR : 0) |
          (rec.cause !== undefined ? RETRY_CAUSE : 0) |
          (rec.at !== undefined ? RETRY_AT : 0) |
          (rec.progress !== undefined ? RETRY_PROGRESS : 0),
      );
      if (rec.runAt !== undefined) w.varint(rec.runAt);
      if (rec.error !== undefined) w.string(rec.error);
      if (rec.cause !== undefined) w.u8(RETRY_CAUSES.indexOf(rec.cause));
      if (rec.at !== undefined) w.varint(rec.at);
      if (rec.progress !== undefined) w.string(rec.progress);
      return;
    case Tag.Dead:
      writeId(w, rec.id);
      w.varint(rec.at);
      w.string(rec.reason);
      if (rec.progress !== undefined) w.string(rec.progress); // under Tag.DeadWithProgress
      return;
    case Tag.Promote:
      w.varint(rec.upTo);
      return;
    case Tag.Cancel:
    case Tag.CancelRequest:
    case Tag.Release:
    case Tag.Wake:
    case Tag.Remove:
      writeId(w, rec.id);
      return;
    case Tag.PauseQueue:
      w.string(rec.queue);
      w.u8(rec.paused ? 1 : 0);
      return;
    case Tag.RequeueDead:
      writeId(w, rec.id);
      // Optional trailing field: earlier releases wrote the id alone.
      if (rec.at !== undefined) w.varint(rec.at);
      return;
    case Tag.SweepDone:
    case Tag.SweepDead:
      w.string(rec.queue);
      w.varint(rec.before);
      return;
    case Tag.PromoteSome:
      w.string(rec.queue);
      w.varint(rec.upTo);
      w.varint(rec.limit);
      return;
    case Tag.SweepDoneSome:
    case Tag.SweepDeadSome:
      w.string(rec.queue);
      w.varint(rec.before);
      w.varint(rec.limit);
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
      writeId(w, rec.id);
      w.u8(
        (rec.runAt !== undefined ? REPLACE_RUN_AT : 0) |
          (rec.headers !== undefined ? REPLACE_HEADERS : 0),
      );
      if (rec.runAt !== undefined) w.varint(rec.runAt);
      if (rec.headers !== undefined) writeHeaders(w, rec.headers);
      w.bytes(rec.payload);
      return;
    case Tag.KvPut:
      w.string(rec.key);
      w.bytes(rec.value);
      return;
    case Tag.KvDelete:
      w.string(rec.key);
      return;
    case Tag.Transaction:
      w.varint(rec.ops.length);
      for (const op of rec.ops) {
        if (!TRANSACTION_OP_TAGS.has(op.tag))
          throw new Error(`a transaction cannot hold a record with tag ${op.tag}`);
        writeRecord(w, op);
      }
      return;
  }
}

/** Encode one record as a standalone log record. */
export function encodeRecord(rec: QueueRecord, sizeHint = 64): Uint8Array {
  const w = new ByteWriter(sizeHint);
  writeRecord(w, rec);
  return w.finish();
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
 */
export class RecordDecoder {
  readonly #reader = new ByteReader(new Uint8Array(0));
  #batch: Uint8Array | null = null;
  #buffer: Buffer = Buffer.alloc(0);

  /** Decodes the record at `batch[start..end)`. Throws {@link DecodeError} on malformed input. */
  decode(batch: Uint8Array, start: number, end: number): QueueRecord {
    if (batch !== this.#batch) {
      this.#batch = batch;
      this.#buffer = asBuffer(batch);
    }
    const r = this.#reader;
    r.reset(this.#buffer, start, end);
    const rec = readRecord(r);
    if (r.remaining !== 0) throw new DecodeError(`${r.remaining} trailing bytes after record`);
    return rec;
  }
}

function readRecord(r: ByteReader): QueueRecord {
  const tag = r.u8();
  switch (tag) {
    case Tag.Enqueue: {
      const idAt = r.position;
      r.skip(ID_BYTES);
      const queue = r.repeatedString();
      const flags = r.varint();
      if (flags & ~ENQ_KNOWN) throw new DecodeError(`unknown enqueue flags ${flags}`);
      const priority = r.varint();
      const maxAttempts = r.varint();
      const enqueuedAt = r.varint();
      const runAt = flags & ENQ_SCHEDULED ? r.varint() : undefined;
      const dedupKey = flags & ENQ_DEDUP ? r.string() : undefined;
      const headers = flags & ENQ_HEADERS ? readHeaders(r) : undefined;
      const jobId = flags & ENQ_JOB_ID ? r.string() : undefined;
      const timeoutMs = flags & ENQ_TIMEOUT ? r.varint() : undefined;
      const groupKey = flags & ENQ_GROUP ? r.string() : undefined;
      const payloadLength = r.varint();
      const payloadAt = r.position;
      r.skip(payloadLength);
      const payloadRef =
        flags & ENQ_PAYLOAD_REF ? { key: r.string(), size: r.varint() } : undefined;
      const flowParent = flags & ENQ_FLOW_PARENT ? r.id() : undefined;
      return new DecodedEnqueue(
        r.buffer,
        idAt,
        payloadAt,
        payloadLength,
        queue,
        headers,
        priority,
        maxAttempts,
        enqueuedAt,
        runAt,
        dedupKey,
        jobId,
        timeoutMs,
        payloadRef,
        flowParent,
        (flags & ENQ_WAITS_FOR_CHILDREN) !== 0 ? true : undefined,
        groupKey,
      );
    }
    case Tag.Claim:
      return { tag, id: readId(r), at: r.varint() };
    case Tag.Ack: {
      const id = readId(r);
      const flags = r.u8();
      const keep = (flags & ACK_KEEP) !== 0;
      const at = keep ? r.varint() : 0;
      if ((flags & ~(ACK_KEEP | ACK_RESULT | ACK_PROGRESS)) !== 0)
        throw new DecodeError(`unknown ack flags ${flags}`);
      const result = flags & ACK_RESULT ? r.bytes() : undefined;
      const progress = flags & ACK_PROGRESS ? r.string() : undefined;
      return {
        tag,
        id,
        keep,
        at,
        ...(result === undefined ? {} : { result }),
        ...(progress === undefined ? {} : { progress }),
      };
    }
    case Tag.Retry: {
      const id = readId(r);
      const flags = r.u8();
      const runAt = flags & RETRY_RUN_AT ? r.varint() : undefined;
      const error = flags & RETRY_ERROR ? r.string() : undefined;
      if ((flags & (RETRY_CAUSE | RETRY_AT | RETRY_PROGRESS)) === 0)
        return { tag, id, runAt, error };
      let cause: RetryCause | undefined;
      if (flags & RETRY_CAUSE) {
        cause = RETRY_CAUSES[r.u8()];
        if (cause === undefined) throw new DecodeError("unknown retry cause");
      }
      const at = flags & RETRY_AT ? r.varint() : undefined;
      if ((flags & RETRY_PROGRESS) === 0) return { tag, id, runAt, error, cause, at };
      return { tag, id, runAt, error, cause, at, progress: r.string() };
    }
    case Tag.Dead:
      return { tag, id: readId(r), at: r.varint(), reason: r.string() };
    case Tag.DeadWithProgress:
      return {
        tag: Tag.Dead,
        id: readId(r),
        at: r.varint(),
        reason: r.string(),
        progress: r.string(),
      };
    case Tag.Promote:
      return { tag, upTo: r.varint() };
    case Tag.Cancel:
    case Tag.CancelRequest:
    case Tag.Release:
    case Tag.Wake:
    case Tag.Remove:
      return { tag, id: readId(r) };
    case Tag.PauseQueue: {
      const queue = r.string();
      const paused = r.u8();
      if (paused > 1) throw new DecodeError(`pause flag ${paused} is not 0 or 1`);
      return { tag, queue, paused: paused === 1 };
    }
    case Tag.RequeueDead: {
      const id = readId(r);
      return r.remaining > 0 ? { tag, id, at: r.varint() } : { tag, id };
    }
    case Tag.SweepDone:
    case Tag.SweepDead:
      return { tag, queue: r.string(), before: r.varint() };
    case Tag.PromoteSome:
      return { tag, queue: r.string(), upTo: r.varint(), limit: r.varint() };
    case Tag.SweepDoneSome:
    case Tag.SweepDeadSome:
      return { tag, queue: r.string(), before: r.varint(), limit: r.varint() };
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
    case Tag.Replace: {
      const id = readId(r);
      const flags = r.u8();
      if ((flags & ~(REPLACE_RUN_AT | REPLACE_HEADERS)) !== 0)
        throw new DecodeError(`replace record has unknown flags ${flags}`);
      const runAt = flags & REPLACE_RUN_AT ? r.varint() : undefined;
      const headers = flags & REPLACE_HEADERS ? readHeaders(r) : undefined;
      return { tag, id, payload: r.bytes(), headers, runAt };
    }
    case Tag.KvPut: {
      const key = r.string();
      // A copy: the state keeps it, and must not pin the log batch it came in.
      return { tag, key, value: r.bytes().slice() };
    }
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
