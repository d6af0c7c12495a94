/**
 * Whether a writing command may open a queue store as its writer without
 * `--take-over`: it may unless a writer is known to be live. Judged from what
 * the store records, read without writing: the newest manifest (its writer
 * epoch and whether a clean close wrote it) and the writer heartbeat
 * (`OpenOptions.heartbeatMs`).
 */
import type { LogInspection } from "../log/index.js";
import { isStaleBeat, type WriterHeartbeat } from "../queue/heartbeat.js";

/** What the store says about the writer that opened it last. */
export type WriterState =
  /** A clean close was its last act (the manifest or its last heartbeat says so). */
  | { kind: "closed"; epoch: number }
  /** It beats, and its newest beat is fresh: it is running. */
  | { kind: "live"; epoch: number; beatAgeMs: number; intervalMs: number }
  /** It beat, but its newest beat is stale ({@link isStaleBeat}): crashed or stalled. */
  | { kind: "stale"; epoch: number; beatAgeMs: number; intervalMs: number }
  /**
   * It does not beat and did not close cleanly: it crashed, or it is still
   * running without a heartbeat. `manifestAgeMs` is the age of its newest
   * manifest (written when it opened, checkpointed or closed).
   */
  | { kind: "silent"; epoch: number; manifestAgeMs: number };

/** The state of the newest writer of a store whose newest manifest is `manifest`. */
export function writerState(
  manifest: NonNullable<LogInspection["manifest"]>,
  beat: WriterHeartbeat | null,
  now: number,
): WriterState {
  // Each writer beats under its own epoch; an older epoch's beat says nothing about the
  // writer that opened since (a newer one can show up when a writer opened meanwhile).
  const own = beat !== null && beat.epoch >= manifest.epoch ? beat : null;
  if (own === null || (own.epoch === manifest.epoch && manifest.closed)) {
    if (manifest.closed) return { kind: "closed", epoch: manifest.epoch };
    return {
      kind: "silent",
      epoch: manifest.epoch,
      manifestAgeMs: Math.max(0, now - manifest.createdAt),
    };
  }
  if (own.closed) return { kind: "closed", epoch: own.epoch };
  // A beat from the future (clocks apart) counts as just written.
  const beatAgeMs = Math.max(0, now - own.at);
  const kind = isStaleBeat(own, beatAgeMs) ? "stale" : "live";
  return { kind, epoch: own.epoch, beatAgeMs, intervalMs: own.intervalMs };
}

/** `1.2 s`, `5 min`, `3.0 h`: an age for a one-line message. */
export function ageText(ms: number): string {
  if (ms < 10_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < 60_000) return `${Math.round(ms / 1000)} s`;
  if (ms < 3_600_000) return `${Math.round(ms / 60_000)} min`;
  return `${(ms / 3_600_000).toFixed(1)} h`;
}

/** Why the command refuses without `--take-over` (for a `live` writer). */
export function liveWriterMessage(state: Extract<WriterState, { kind: "live" }>): string {
  return (
    `writer epoch ${state.epoch} is live (its heartbeat is ${ageText(state.beatAgeMs)} old, ` +
    `beating every ${state.intervalMs} ms); nothing was written: pass --take-over to fence it ` +
    "and write anyway"
  );
}

/** The one line a writing command prints once it opened the store as writer epoch `epoch`. */
export function openedMessage(epoch: number, before: WriterState | null): string {
  if (before === null)
    return `created a new queue store and opened it as its writer (epoch ${epoch})`;
  const opened = `opened the queue store as its writer (epoch ${epoch})`;
  switch (before.kind) {
    case "closed":
      return `${opened}; writer epoch ${before.epoch} had closed cleanly`;
    case "live":
      return `${opened}; fenced live writer epoch ${before.epoch} (--take-over; its heartbeat was ${ageText(before.beatAgeMs)} old): it fails on its next write`;
    case "stale":
      return `${opened}; fenced writer epoch ${before.epoch}, whose heartbeat had stopped ${ageText(before.beatAgeMs)} ago (every ${before.intervalMs} ms): gone or stalled`;
    case "silent":
      return `${opened}; fenced writer epoch ${before.epoch} in case it still runs (it has no heartbeat and did not close cleanly; its last manifest is ${ageText(before.manifestAgeMs)} old)`;
  }
}
