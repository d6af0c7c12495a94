/**
 * The binary form of the job extras added with results, attempt history,
 * per-job timeouts, offloaded payloads and progress (shared by the checkpoint encoder
 * and decoder), and the bit of each in an extras mask.
 */
import type { ByteReader, ByteWriter } from "./binary.js";
import { readHistory, writeHistory } from "./history.js";
import { Extra } from "./snapshot-layout.js";
import type { JobExtras } from "./table.js";

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

/** Writes the fields of {@link moreExtrasMask}, in bit order. */
export function writeMoreExtras(w: ByteWriter, extras: JobExtras): void {
  if (extras.result !== undefined) w.bytes(extras.result);
  if (extras.history !== undefined) writeHistory(w, extras.history);
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
  if (mask & Extra.History) extras.history = readHistory(r);
  if (mask & Extra.Timeout) extras.timeoutMs = r.varint();
  if (mask & Extra.PayloadRef) extras.payloadRef = { key: r.string(), size: r.varint() };
  if (mask & Extra.GroupKey) extras.groupKey = r.string();
}
