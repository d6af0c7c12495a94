/**
 * Records that move one job from state to state: their shapes and their
 * encoding (after the tag byte). Records that carry only the job's id
 * (cancel, cancel request, release, wake, remove) are encoded by the codec.
 */
import { type ByteReader, type ByteWriter, DecodeError } from "../binary.js";
import { Tag } from "./tags.js";

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
  /**
   * How the last attempt ended when it was not a plain failure (its lease
   * expired, its process went away, it timed out): the attempt history's
   * outcome then. Absent for a dead-letter or a failure (`dead_lettered`).
   */
  readonly cause?: RetryCause | undefined;
}
/**
 * Pending, scheduled or claimed → removed. With `at` (when it was cancelled)
 * the job leaves a tombstone with its attempt history; records of earlier
 * releases carry no time and leave none.
 */
export interface CancelRecord {
  readonly tag: typeof Tag.Cancel;
  readonly id: string;
  readonly at?: number | undefined;
  /** The error of the attempt the cancel ended (only with `at`). */
  readonly error?: string | undefined;
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
/** A pending, scheduled, done or dead job → removed (`removeJobs`). */
export interface RemoveRecord {
  readonly tag: typeof Tag.Remove;
  readonly id: string;
  /**
   * When (set for a flow's job: a waiting parent goes dead then); records
   * of earlier releases carry none.
   */
  readonly at?: number | undefined;
}

const ACK_KEEP = 1;
const ACK_RESULT = 2;
const ACK_PROGRESS = 4;
const RETRY_RUN_AT = 1;
const RETRY_ERROR = 2;
const RETRY_CAUSE = 4;
const RETRY_AT = 8;
const RETRY_PROGRESS = 16;
/** Retry causes as stored; never renumber one. */
const RETRY_CAUSES: readonly RetryCause[] = ["lease_expired", "interrupted", "timed_out"];

/**
 * The tag a cancel is stored under: `CancelAt` when it carries its time,
 * `CancelWithError` when it also carries the ended attempt's error.
 */
export function cancelTag(rec: CancelRecord): number {
  if (rec.at === undefined) return Tag.Cancel;
  return rec.error === undefined ? Tag.CancelAt : Tag.CancelWithError;
}

/** A cancel's body, under {@link cancelTag}. */
export function writeCancel(w: ByteWriter, rec: CancelRecord): void {
  w.id(rec.id);
  if (rec.at === undefined) return;
  w.varint(rec.at);
  if (rec.error !== undefined) w.string(rec.error);
}

/** A cancel stored under `Tag.CancelAt` (a plain `Tag.Cancel` body is the id alone). */
export function readCancelAt(r: ByteReader): CancelRecord {
  return { tag: Tag.Cancel, id: r.id(), at: r.varint() };
}

/** A cancel stored under `Tag.CancelWithError`. */
export function readCancelWithError(r: ByteReader): CancelRecord {
  return { tag: Tag.Cancel, id: r.id(), at: r.varint(), error: r.string() };
}

export function writeClaim(w: ByteWriter, rec: ClaimRecord): void {
  w.id(rec.id);
  w.varint(rec.at);
}

export function readClaim(r: ByteReader): ClaimRecord {
  return { tag: Tag.Claim, id: r.id(), at: r.varint() };
}

export function writeAck(w: ByteWriter, rec: AckRecord): void {
  w.id(rec.id);
  w.u8(
    (rec.keep ? ACK_KEEP : 0) |
      (rec.result !== undefined ? ACK_RESULT : 0) |
      (rec.progress !== undefined ? ACK_PROGRESS : 0),
  );
  if (rec.keep) w.varint(rec.at);
  if (rec.result !== undefined) w.bytes(rec.result);
  if (rec.progress !== undefined) w.string(rec.progress);
}

export function readAck(r: ByteReader): AckRecord {
  const id = r.id();
  const flags = r.u8();
  const keep = (flags & ACK_KEEP) !== 0;
  const at = keep ? r.varint() : 0;
  if ((flags & ~(ACK_KEEP | ACK_RESULT | ACK_PROGRESS)) !== 0)
    throw new DecodeError(`unknown ack flags ${flags}`);
  const result = flags & ACK_RESULT ? r.bytes() : undefined;
  const progress = flags & ACK_PROGRESS ? r.string() : undefined;
  return {
    tag: Tag.Ack,
    id,
    keep,
    at,
    ...(result === undefined ? {} : { result }),
    ...(progress === undefined ? {} : { progress }),
  };
}

export function writeRetry(w: ByteWriter, rec: RetryRecord): void {
  w.id(rec.id);
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
}

export function readRetry(r: ByteReader): RetryRecord {
  const tag = Tag.Retry;
  const id = r.id();
  const flags = r.u8();
  const runAt = flags & RETRY_RUN_AT ? r.varint() : undefined;
  const error = flags & RETRY_ERROR ? r.string() : undefined;
  if ((flags & (RETRY_CAUSE | RETRY_AT | RETRY_PROGRESS)) === 0) return { tag, id, runAt, error };
  let cause: RetryCause | undefined;
  if (flags & RETRY_CAUSE) {
    cause = RETRY_CAUSES[r.u8()];
    if (cause === undefined) throw new DecodeError("unknown retry cause");
  }
  const at = flags & RETRY_AT ? r.varint() : undefined;
  if ((flags & RETRY_PROGRESS) === 0) return { tag, id, runAt, error, cause, at };
  return { tag, id, runAt, error, cause, at, progress: r.string() };
}

/** The tag a dead record is stored under: with a cause, with progress, or plain. */
export function deadTag(rec: DeadRecord): number {
  if (rec.cause !== undefined) return Tag.DeadWithCause;
  return rec.progress !== undefined ? Tag.DeadWithProgress : Tag.Dead;
}

const DEAD_PROGRESS = 1;

/** A dead record's body, for the tag {@link deadTag} gives it. */
export function writeDead(w: ByteWriter, rec: DeadRecord): void {
  w.id(rec.id);
  w.varint(rec.at);
  w.string(rec.reason);
  if (rec.cause !== undefined) {
    w.u8(rec.progress !== undefined ? DEAD_PROGRESS : 0);
    w.u8(RETRY_CAUSES.indexOf(rec.cause));
  }
  if (rec.progress !== undefined) w.string(rec.progress);
}

/** The body of a dead record stored under `Tag.DeadWithCause`. */
export function readDeadWithCause(r: ByteReader): DeadRecord {
  const id = r.id();
  const at = r.varint();
  const reason = r.string();
  const flags = r.u8();
  if ((flags & ~DEAD_PROGRESS) !== 0) throw new DecodeError(`unknown dead record flags ${flags}`);
  const cause = RETRY_CAUSES[r.u8()];
  if (cause === undefined) throw new DecodeError("unknown dead record cause");
  if ((flags & DEAD_PROGRESS) === 0) return { tag: Tag.Dead, id, at, reason, cause };
  return { tag: Tag.Dead, id, at, reason, cause, progress: r.string() };
}

/** A dead record's body, with progress when it was stored as `Tag.DeadWithProgress`. */
export function readDead(r: ByteReader, withProgress: boolean): DeadRecord {
  if (!withProgress) return { tag: Tag.Dead, id: r.id(), at: r.varint(), reason: r.string() };
  return { tag: Tag.Dead, id: r.id(), at: r.varint(), reason: r.string(), progress: r.string() };
}

export function writeRequeueDead(w: ByteWriter, rec: RequeueDeadRecord): void {
  w.id(rec.id);
  // Optional trailing field: earlier releases wrote the id alone.
  if (rec.at !== undefined) w.varint(rec.at);
}

export function readRequeueDead(r: ByteReader): RequeueDeadRecord {
  const id = r.id();
  return r.remaining > 0
    ? { tag: Tag.RequeueDead, id, at: r.varint() }
    : { tag: Tag.RequeueDead, id };
}

export function writeRemove(w: ByteWriter, rec: RemoveRecord): void {
  w.id(rec.id);
  // Optional trailing field: earlier releases wrote the id alone.
  if (rec.at !== undefined) w.varint(rec.at);
}

export function readRemove(r: ByteReader): RemoveRecord {
  const id = r.id();
  return r.remaining > 0 ? { tag: Tag.Remove, id, at: r.varint() } : { tag: Tag.Remove, id };
}
