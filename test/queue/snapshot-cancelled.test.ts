/**
 * The tombstones section of a checkpoint is written and read in slices
 * bounded by bytes, not only by a count: a tombstone keeps the job's whole
 * attempt history (up to 100 entries with errors of up to 8 KiB each), so a
 * fixed count of them per budget check can be a hundred megabytes, one
 * event-loop turn of hundreds of milliseconds.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { CancelledJobs } from "../../src/queue/cancelled.js";
import { appendAttempt, type EncodedHistory, MAX_HISTORY } from "../../src/queue/history.js";
import { MAX_MESSAGE_BYTES } from "../../src/queue/limits.js";
import {
  cancelledSectionReader,
  cancelledSectionWriter,
} from "../../src/queue/snapshot-cancelled.js";
import { SectionsReader } from "../../src/queue/snapshot-sections.js";
import { State } from "../../src/queue/state.js";

const NOW = 1_700_000_000_000;
/** The bytes of tombstones one slice writes or reads before it checks its budget (at most). */
const SLICE_BYTES = 1 << 20;
const SPENT = { spent: () => true };

/** A history as long as it gets: the newest 100 failed attempts, each with an 8 KiB error. */
function longestHistory(): EncodedHistory {
  let history: EncodedHistory | undefined;
  for (let a = 1; a <= MAX_HISTORY; a++)
    history = appendAttempt(history, {
      attempt: a,
      claimedAt: NOW + a,
      recordedAt: NOW + a,
      outcome: "retried",
      error: "e".repeat(MAX_MESSAGE_BYTES),
    });
  return history!;
}

/** `count` tombstones of queue 0, each with {@link longestHistory}. */
function bigTombstones(count: number): CancelledJobs {
  const jobs = new CancelledJobs();
  const history = longestHistory();
  for (let i = 0; i < count; i++) jobs.add(`job-${i}`, 0, NOW + i, history);
  return jobs;
}

describe("the tombstones section of a checkpoint", () => {
  const count = 8;
  const jobs = bigTombstones(count);
  const full = cancelledSectionWriter(jobs.freeze());
  const out = new Uint8Array(full.bytes);
  assert.ok(full.step(out, 0, { spent: () => false }), "one step without a budget");
  const entryBytes = Math.ceil(out.byteLength / count);
  /** Tombstones one slice may take: those within its bound and the one that crosses it. */
  const perSlice = Math.floor(SLICE_BYTES / entryBytes) + 1;

  it("is written a bounded number of bytes per budget check, not every tombstone at once", () => {
    assert.ok(entryBytes > 500_000, `a tombstone of ${entryBytes} bytes`);
    const writer = cancelledSectionWriter(jobs.freeze());
    const sliced = new Uint8Array(writer.bytes);
    let steps = 1;
    while (!writer.step(sliced, 0, SPENT)) steps++;
    assert.ok(steps >= Math.ceil(count / perSlice), `all ${count} tombstones in ${steps} steps`);
    assert.deepEqual(sliced, out, "the same bytes as written in one step");
  });

  it("is read back a bounded number of bytes per budget check", () => {
    const state = new State();
    state.queue("q");
    const sections = new SectionsReader(out, state);
    const bodies = sections.step({ spent: () => false });
    assert.ok(bodies !== null && bodies.cancelled !== null, "the section's body");
    const reader = cancelledSectionReader(bodies.cancelled, state);
    let steps = 0;
    let previous = 0;
    for (;;) {
      steps++;
      const done = reader.step(SPENT);
      const read = state.cancelled.size - previous;
      assert.ok(read <= perSlice, `step ${steps} read ${read} tombstones of ${entryBytes} bytes`);
      previous = state.cancelled.size;
      if (done) break;
    }
    assert.equal(state.cancelled.size, count);
    assert.deepEqual(state.cancelled.get("job-3"), jobs.get("job-3"));
  });
});
