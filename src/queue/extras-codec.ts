/**
 * The binary form of the job extras added with results, attempt history,
 * per-job timeouts, offloaded payloads and progress (shared by the checkpoint encoder
 * and decoder), and the bit of each in an extras mask.
 */
import { type ByteReader, type ByteWriter, DecodeError } from "./binary.js";
import { Extra } from "./snapshot-layout.js";
import type { JobExtras } from "./table.js";
import type { AttemptOutcome, JobAttempt } from "./types.js";

/** Outcome codes as stored; never renumber one. */
export const OUTCOMES: readonly AttemptOutcome[] = [
  "completed",
  "retried",
  "dead_lettered",
  "lease_expired",
  "interrupted",
  "timed_out",
  "requeued",
  "cancelled",
];

const HAS_CLAIMED_AT = 1;
const HAS_ERROR = 2;

/** The mask bits of the extras this module writes. */
export function moreExtrasMask(extras: JobExtras): number {
  return (
    (extras.result !== undefined ? Extra.Result : 0) |
    (extras.history !== undefined ? Extra.History : 0) |
    (extras.timeoutMs !== undefined ? Extra.Timeout : 0) |
    (extras.payloadRef !== undefined ? Extra.PayloadRef : 0) |
    (extras.groupKey !== undefined ? Extra.GroupKey : 0) |
    (extras.progress !== undefined ? Extra.Progress : 0)
  );
}

/** One attempt entry. */
export function writeAttempt(w: ByteWriter, entry: JobAttempt): void {
  w.u8(OUTCOMES.indexOf(entry.outcome));
  w.u8(
    (entry.claimedAt !== undefined ? HAS_CLAIMED_AT : 0) |
      (entry.error !== undefined ? HAS_ERROR : 0),
  );
  w.varint(entry.attempt);
  w.varint(entry.recordedAt);
  if (entry.claimedAt !== undefined) w.varint(entry.claimedAt);
  if (entry.error !== undefined) w.string(entry.error);
}

export function readAttempt(r: ByteReader): JobAttempt {
  const outcome = OUTCOMES[r.u8()];
  if (outcome === undefined) throw new DecodeError("unknown attempt outcome");
  const flags = r.u8();
  const entry: JobAttempt = { attempt: r.varint(), recordedAt: r.varint(), outcome };
  if (flags & HAS_CLAIMED_AT) entry.claimedAt = r.varint();
  if (flags & HAS_ERROR) entry.error = r.string();
  return entry;
}

/** Writes the fields of {@link moreExtrasMask}, in bit order. */
export function writeMoreExtras(w: ByteWriter, extras: JobExtras): void {
  if (extras.result !== undefined) w.bytes(extras.result);
  if (extras.history !== undefined) {
    w.varint(extras.history.length);
    for (const entry of extras.history) writeAttempt(w, entry);
  }
  if (extras.timeoutMs !== undefined) w.varint(extras.timeoutMs);
  if (extras.payloadRef !== undefined) {
    w.string(extras.payloadRef.key);
    w.varint(extras.payloadRef.size);
  }
  if (extras.groupKey !== undefined) w.string(extras.groupKey);
}

/** Writes the progress extra (its bit is above the flow extras', so it comes after them). */
export function writeProgressExtra(w: ByteWriter, extras: JobExtras): void {
  if (extras.progress !== undefined) w.string(extras.progress);
}

/** Reads what {@link writeProgressExtra} wrote for `mask`. */
export function readProgressExtra(
  r: ByteReader,
  mask: number,
  extras: { -readonly [K in keyof JobExtras]: JobExtras[K] },
): void {
  if (mask & Extra.Progress) extras.progress = r.string();
}

/** Reads what {@link writeMoreExtras} wrote for `mask` into `extras` (copying bytes). */
export function readMoreExtras(
  r: ByteReader,
  mask: number,
  extras: { -readonly [K in keyof JobExtras]: JobExtras[K] },
): void {
  if (mask & Extra.Result) extras.result = Buffer.from(r.bytes());
  if (mask & Extra.History) {
    const count = r.varint();
    const history: JobAttempt[] = [];
    for (let i = 0; i < count; i++) history.push(readAttempt(r));
    extras.history = history;
  }
  if (mask & Extra.Timeout) extras.timeoutMs = r.varint();
  if (mask & Extra.PayloadRef) extras.payloadRef = { key: r.string(), size: r.varint() };
  if (mask & Extra.GroupKey) extras.groupKey = r.string();
}
