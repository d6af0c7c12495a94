/**
 * Records that create a job or replace a waiting one's payload: their shapes
 * and their encoding (after the tag byte).
 */
import { type ByteReader, type ByteWriter, DecodeError } from "../binary.js";
import { ID_BYTES, readIdBytes } from "../ids.js";
import type { Headers } from "../state.js";
import type { PayloadRef } from "../table.js";
import {
  readTraceBytes,
  TRACE_BYTES,
  type TraceContext,
  writeTraceBytes,
} from "../trace-context.js";
import { readHeaders, writeHeaders } from "./headers.js";
import { Tag } from "./tags.js";

const EMPTY = new Uint8Array(0);

/** A new job: pending, or scheduled when `runAt` is set. */
export interface EnqueueRecord {
  readonly tag: typeof Tag.Enqueue;
  readonly id: string;
  readonly queue: string;
  readonly payload: Uint8Array;
  readonly headers: Headers | undefined;
  /**
   * The producer span's context, valid (`isValidTraceContext`), stored as
   * bytes; its `traceparent` header is made when the job is read.
   */
  readonly trace?: TraceContext | undefined;
  readonly priority: number;
  readonly maxAttempts: number;
  readonly enqueuedAt: number;
  readonly runAt: number | undefined;
  readonly dedupKey: string | undefined;
  /** The caller's id for the job (`options.jobId`); `id` stays the log's own. */
  readonly jobId?: string | undefined;
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
 * job table (no id string, no payload view per job). A replay decodes every
 * top-level enqueue into one such object, refilled record after record (see
 * `RecordDecoder`): it is valid until the next record is decoded.
 */
export class DecodedEnqueue implements EnqueueRecord {
  readonly tag: typeof Tag.Enqueue = Tag.Enqueue;
  #id: string | undefined = undefined;
  /** The record's bytes: the id is `bytes[idAt..idAt+16)`, the payload `bytes[payloadAt..+payloadLength)`. */
  bytes: Uint8Array = EMPTY;
  idAt = 0;
  payloadAt = 0;
  payloadLength = 0;
  queue = "";
  headers: Headers | undefined = undefined;
  priority = 0;
  maxAttempts = 1;
  enqueuedAt = 0;
  runAt: number | undefined = undefined;
  dedupKey: string | undefined = undefined;
  jobId: string | undefined = undefined;
  timeoutMs: number | undefined = undefined;
  payloadRef: PayloadRef | undefined = undefined;
  flowParent: string | undefined = undefined;
  waitsForChildren: boolean | undefined = undefined;
  groupKey: string | undefined = undefined;
  /** Where the trace context's {@link TRACE_BYTES} start in `bytes`, or -1 when it has none. */
  traceAt = -1;

  /** Forgets what was derived from the previous record's bytes (before a refill). */
  clearDerived(): void {
    this.#id = undefined;
  }

  get trace(): TraceContext | undefined {
    return this.traceAt < 0 ? undefined : readTraceBytes(this.bytes, this.traceAt);
  }

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
      ...(this.traceAt < 0 ? {} : { trace: this.trace }),
    };
  }
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
  /** The new payload was offloaded to this object (`payload` is then empty). */
  readonly payloadRef?: PayloadRef | undefined;
}

const ENQ_SCHEDULED = 1;
const ENQ_DEDUP = 2;
const ENQ_HEADERS = 4;
const ENQ_JOB_ID = 8;
const ENQ_TIMEOUT = 16;
const ENQ_PAYLOAD_REF = 32;
const ENQ_GROUP = 64;
const ENQ_FLOW_PARENT = 256;
const ENQ_WAITS_FOR_CHILDREN = 512;
/** The producer's trace context: {@link TRACE_BYTES} bytes after every other field. */
const ENQ_TRACE = 1024;
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
  ENQ_WAITS_FOR_CHILDREN |
  ENQ_TRACE;
const REPLACE_RUN_AT = 1;
const REPLACE_HEADERS = 2;
/**
 * An offloaded replacement payload: its object's key and size after the
 * (empty) payload. Set only on such records, so a replace without one is
 * written as before; releases without this flag refuse the record.
 */
const REPLACE_PAYLOAD_REF = 4;
const REPLACE_KNOWN = REPLACE_RUN_AT | REPLACE_HEADERS | REPLACE_PAYLOAD_REF;

/** An enqueue record's body (after its tag byte). */
/**
 * Where {@link writeEnqueue} put an enqueue's ids in its writer: the bytes
 * of a record encoded ahead of its commit get the ids taken at the commit
 * written over them (a flow's jobs, see `flow-commit.ts`).
 */
export interface EnqueueIdSlots {
  /** Offset of the 16 bytes of `id`. */
  id: number;
  /** Offset of the 16 bytes of `flowParent`; -1 without one. */
  flowParent: number;
}

export function writeEnqueue(w: ByteWriter, rec: EnqueueRecord, slots?: EnqueueIdSlots): void {
  if (slots !== undefined) slots.id = w.length;
  w.id(rec.id);
  w.string(rec.queue);
  const trace = rec.trace ?? null;
  const flags =
    (rec.runAt !== undefined ? ENQ_SCHEDULED : 0) |
    (rec.dedupKey !== undefined ? ENQ_DEDUP : 0) |
    (rec.headers !== undefined ? ENQ_HEADERS : 0) |
    (rec.jobId !== undefined ? ENQ_JOB_ID : 0) |
    (rec.timeoutMs !== undefined ? ENQ_TIMEOUT : 0) |
    (rec.payloadRef !== undefined ? ENQ_PAYLOAD_REF : 0) |
    (rec.flowParent !== undefined ? ENQ_FLOW_PARENT : 0) |
    (rec.waitsForChildren === true ? ENQ_WAITS_FOR_CHILDREN : 0) |
    (rec.groupKey !== undefined ? ENQ_GROUP : 0) |
    (trace !== null ? ENQ_TRACE : 0);
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
  if (rec.flowParent !== undefined) {
    if (slots !== undefined) slots.flowParent = w.length;
    w.id(rec.flowParent);
  } else if (slots !== undefined) slots.flowParent = -1;
  if (trace !== null) {
    const at = w.reserve(TRACE_BYTES);
    writeTraceBytes(trace, w.buffer, at);
  }
}

/**
 * An enqueue record's body: id and payload stay views of the reader's buffer.
 * Given `into`, it is refilled (and returned) instead of a new record made.
 */
export function readEnqueue(r: ByteReader, into?: DecodedEnqueue): DecodedEnqueue {
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
  const payloadRef = flags & ENQ_PAYLOAD_REF ? { key: r.string(), size: r.varint() } : undefined;
  const flowParent = flags & ENQ_FLOW_PARENT ? r.id() : undefined;
  const traceAt = flags & ENQ_TRACE ? r.position : -1;
  if (traceAt >= 0) r.skip(TRACE_BYTES);
  // Filled only once the whole body decoded: a malformed record leaves `into` as it was.
  const rec = into ?? new DecodedEnqueue();
  rec.clearDerived();
  rec.bytes = r.buffer;
  rec.idAt = idAt;
  rec.payloadAt = payloadAt;
  rec.payloadLength = payloadLength;
  rec.queue = queue;
  rec.headers = headers;
  rec.priority = priority;
  rec.maxAttempts = maxAttempts;
  rec.enqueuedAt = enqueuedAt;
  rec.runAt = runAt;
  rec.dedupKey = dedupKey;
  rec.jobId = jobId;
  rec.timeoutMs = timeoutMs;
  rec.payloadRef = payloadRef;
  rec.flowParent = flowParent;
  rec.waitsForChildren = (flags & ENQ_WAITS_FOR_CHILDREN) !== 0 ? true : undefined;
  rec.groupKey = groupKey;
  rec.traceAt = traceAt;
  return rec;
}

/** A replace record's body (after its tag byte). */
export function writeReplace(w: ByteWriter, rec: ReplaceRecord): void {
  w.id(rec.id);
  w.u8(
    (rec.runAt !== undefined ? REPLACE_RUN_AT : 0) |
      (rec.headers !== undefined ? REPLACE_HEADERS : 0) |
      (rec.payloadRef !== undefined ? REPLACE_PAYLOAD_REF : 0),
  );
  if (rec.runAt !== undefined) w.varint(rec.runAt);
  if (rec.headers !== undefined) writeHeaders(w, rec.headers);
  w.bytes(rec.payload);
  if (rec.payloadRef !== undefined) {
    w.string(rec.payloadRef.key);
    w.varint(rec.payloadRef.size);
  }
}

export function readReplace(r: ByteReader): ReplaceRecord {
  const id = r.id();
  const flags = r.u8();
  if ((flags & ~REPLACE_KNOWN) !== 0)
    throw new DecodeError(`replace record has unknown flags ${flags}`);
  const runAt = flags & REPLACE_RUN_AT ? r.varint() : undefined;
  const headers = flags & REPLACE_HEADERS ? readHeaders(r) : undefined;
  const payload = r.bytes();
  if ((flags & REPLACE_PAYLOAD_REF) === 0) return { tag: Tag.Replace, id, payload, headers, runAt };
  const payloadRef = { key: r.string(), size: r.varint() };
  return { tag: Tag.Replace, id, payload, headers, runAt, payloadRef };
}
