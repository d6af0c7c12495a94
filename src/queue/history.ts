/**
 * A job's attempt history as the state holds it: its encoded bytes in a
 * one-byte string (one char per byte), decoded only when read.
 *
 * Why: kept done jobs and dead jobs each carry a history. As an array of
 * `JobAttempt` objects it cost five JS objects per job (the array, its
 * backing store, the attempt, two heap numbers for its times), about
 * 215 bytes of JS heap that every full garbage collection traces; a queue
 * keeping a million done jobs held five million of them. As a string it is
 * one object of about 40 bytes, which the collector does not look inside.
 *
 * The bytes are exactly those of the snapshot's `History` extra: a varint
 * count, then each attempt as {@link writeAttempt} writes it. So a checkpoint
 * copies them as they are, and a restore keeps the checkpoint's bytes
 * (checked, not decoded into objects).
 */
import { asBuffer, ByteReader, ByteWriter, DecodeError } from "./binary.js";
import { latin1Slice } from "./buffer-codecs.js";
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

/** An encoded attempt history (see the module comment); build one with {@link appendAttempt}. */
export type EncodedHistory = string & { readonly __encodedHistory: true };

/**
 * Most attempts kept in a job's history: the newest, so a job retried
 * thousands of times costs bounded memory and checkpoint space.
 */
export const MAX_HISTORY = 100;

/** `history` (or none) with `entry` appended, keeping the newest {@link MAX_HISTORY}. */
export function appendAttempt(
  history: EncodedHistory | undefined,
  entry: JobAttempt,
): EncodedHistory {
  // The usual case: the count fits one byte before and after, and no entry
  // falls off. Then the new history is the old one's bytes with its count
  // bumped and one entry encoded onto their end, without decoding the old
  // entries. Made from bytes in one go: a `+` of strings would leave a tree
  // of pieces (and a `slice` a view of the old history) for the state to
  // keep, several objects per job for the collector to copy and trace.
  const count = history === undefined ? 0 : history.charCodeAt(0);
  if (count + 1 <= MAX_HISTORY && count + 1 < 0x80) {
    const error = entry.error === undefined ? 0 : 8 + 3 * entry.error.length;
    const w = new ByteWriter((history === undefined ? 1 : history.length) + 24 + error);
    if (history === undefined) w.u8(0);
    else w.latin1(history);
    writeAttempt(w, entry);
    const bytes = w.finish();
    bytes[0] = count + 1;
    return latin1Slice(asBuffer(bytes), 0, bytes.byteLength) as EncodedHistory;
  }
  const list = history === undefined ? [] : decodeHistory(history);
  list.push(entry);
  const kept = list.length > MAX_HISTORY ? list.slice(list.length - MAX_HISTORY) : list;
  const w = new ByteWriter(32 + 24 * kept.length);
  w.varint(kept.length);
  for (const attempt of kept) writeAttempt(w, attempt);
  const bytes = w.finish();
  return latin1Slice(asBuffer(bytes), 0, bytes.byteLength) as EncodedHistory;
}

/** The attempts of `history`, oldest first (fresh objects the caller may keep or change). */
export function decodeHistory(history: EncodedHistory): JobAttempt[] {
  const r = new ByteReader(Buffer.from(history, "latin1"));
  const count = r.varint();
  const list: JobAttempt[] = [];
  for (let i = 0; i < count; i++) list.push(readAttempt(r));
  return list;
}

/** Writes `history` as the snapshot's `History` extra (its bytes as they are). */
export function writeHistory(w: ByteWriter, history: EncodedHistory): void {
  w.latin1(history);
}

/**
 * Reads a `History` extra written by {@link writeHistory} (or by earlier
 * releases, which wrote the same bytes), checking every attempt without
 * building objects for them.
 */
export function readHistory(r: ByteReader): EncodedHistory {
  const from = r.position;
  skipHistory(r);
  return latin1Slice(r.buffer, from, r.position) as EncodedHistory;
}

/** Reads past a history as {@link readHistory} would, refusing what it refuses. */
export function skipHistory(r: ByteReader): void {
  const count = r.varint();
  for (let i = 0; i < count; i++) skipAttempt(r);
}

/** Reads past one attempt as {@link readAttempt} would, refusing what it refuses. */
function skipAttempt(r: ByteReader): void {
  if (OUTCOMES[r.u8()] === undefined) throw new DecodeError("unknown attempt outcome");
  const flags = r.u8();
  r.varint();
  r.varint();
  if (flags & HAS_CLAIMED_AT) r.varint();
  if (flags & HAS_ERROR) r.skip(r.varint());
}
