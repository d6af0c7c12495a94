/**
 * The reaper's sweeps, step by step: each pass probes with small steps
 * before it trusts its estimate of what an item costs (a sweep of jobs
 * dearer than the estimate would otherwise hold one turn for a multiple of
 * a slice), and a sweep of tombstones walks its tree once per record
 * rather than searching it from the root for every tombstone it drops.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { readLog } from "../../src/log/index.js";
import { silentLogger } from "../../src/logger.js";
import { CancelledJobs } from "../../src/queue/cancelled.js";
import { appendAttempt } from "../../src/queue/history.js";
import type { Queue } from "../../src/queue/queue.js";
import { BULK_RECORD_JOBS, BULK_RECORD_MIN_JOBS } from "../../src/queue/records/bulk.js";
import { decodeRecord } from "../../src/queue/records/codec.js";
import { Tag } from "../../src/queue/records/tags.js";
import type { State } from "../../src/queue/state.js";
import type { ObjectStore } from "../../src/store/types.js";
import { BTree } from "../../src/util/btree.js";
import { SLICE_CLOCK, SLICE_MS } from "../../src/util/slices.js";
import { liveState, replayedState, stateDigest } from "../reliability/lib/audit.js";
import { turnCounter } from "../turns.js";
import { until } from "../until.js";
import { openTestQueue } from "./helpers.js";

const RETENTION_MS = 60_000;
const REAPER_MS = 1_000;
/** The most jobs the first record of a pass may take (a probe). */
const PROBE = 4 * BULK_RECORD_MIN_JOBS;
const HISTORY = appendAttempt(undefined, { attempt: 0, recordedAt: 5, outcome: "requeued" });

/** The limits of the tombstone sweeps in `store`'s log, in order. */
async function sweepLimits(store: ObjectStore): Promise<number[]> {
  const { records } = await readLog(store, "q", { logger: silentLogger });
  return records
    .map(decodeRecord)
    .flatMap((record) => (record.tag === Tag.SweepCancelledSome ? [record.limit] : []));
}

/** Enqueues `count` jobs on queue `q` and cancels them, 500 per transaction: `count` tombstones. */
async function cancelJobs(queue: Queue, count: number): Promise<void> {
  for (let i = 0; i < count; i += 500) {
    const ids = await queue.enqueueBatch(
      "q",
      Array.from({ length: 500 }, () => "x"),
    );
    await queue.transaction((tx) => {
      for (const id of ids) tx.cancel(id);
    });
  }
}

/**
 * Counts turns of the event loop and keeps the most the slice clock `now`
 * moved between two of them, from the fourth turn on (the first ones run
 * the test's own set-up); `onTurn` runs at each turn after the reading.
 */
function slicedTurns(
  now: () => number,
  onTurn?: () => void,
): { readonly seen: number; readonly worst: number; stop(): void } {
  let worst = 0;
  let seen = 0;
  let last = now();
  const counter = turnCounter(() => {
    const at = now();
    if (seen++ > 2) worst = Math.max(worst, at - last);
    last = at;
    onTurn?.();
  });
  return {
    get seen() {
      return seen;
    },
    get worst() {
      return worst;
    },
    stop: () => counter.stop(),
  };
}

describe("a pass of the reaper", { timeout: 60_000 }, () => {
  it("probes with small steps first: a sweep of items dearer than its estimate keeps every turn near one slice", async () => {
    // The slice clock moves with the work: 20 µs a tombstone dropped (five
    // times the sizer's first estimate), and a little at every reading.
    const perItemMs = 0.02;
    const total = 3_000;
    let state: State | undefined;
    let reads = 0;
    const dropped = (): number => (state === undefined ? 0 : total - state.cancelled.size);
    const now = (): number => ++reads * 0.001 + dropped() * perItemMs;
    const { queue, clock, store } = await openTestQueue({
      reaperIntervalMs: REAPER_MS,
      defaultQueueConfig: { resultRetentionMs: RETENTION_MS },
      ...{ [SLICE_CLOCK]: now },
    });
    await cancelJobs(queue, total);
    const live = liveState(queue);
    assert.equal(live.cancelled.size, total);
    state = live;

    const turns = slicedTurns(now);
    try {
      await until(() => turns.seen > 3);
      clock.advance(RETENTION_MS + REAPER_MS);
      await until(() => live.cancelled.size === 0);
    } finally {
      turns.stop();
    }
    assert.ok(turns.worst <= 2 * SLICE_MS, `a turn of ${turns.worst.toFixed(2)} ms of sweeping`);
    await queue.flush();
    assert.equal(stateDigest(await replayedState(store, "q")), stateDigest(live));
    await queue.close();
  });

  it("restarts its probe at every pass, not when a call joins one under way", async () => {
    // Two cohorts of tombstones, swept by two passes. The slice clock moves
    // with the work: the first cohort is cheap (a pass that learns a low
    // estimate and reaches full records), the second 40 times dearer.
    const cohort = 3_000;
    let perItemMs = 0.000_5;
    let state: State | undefined;
    let seen = 0;
    let cost = 0;
    let reads = 0;
    const now = (): number => {
      const dropped = state === undefined ? 0 : 2 * cohort - state.cancelled.size;
      cost += (dropped - seen) * perItemMs;
      seen = dropped;
      return ++reads * 0.001 + cost;
    };
    const { queue, clock, store } = await openTestQueue({
      reaperIntervalMs: 3_600_000,
      log: { checkpointWalBatches: 100_000 },
      defaultQueueConfig: { resultRetentionMs: RETENTION_MS },
      ...{ [SLICE_CLOCK]: now },
    });
    await cancelJobs(queue, cohort);
    clock.advance(10_000);
    await cancelJobs(queue, cohort);
    const live = liveState(queue);
    state = live;

    // The first pass: the cheap cohort only (the second is not due yet).
    clock.advance(RETENTION_MS - 5_000);
    await queue.reapNow();
    assert.equal(live.cancelled.size, cohort);
    const first = await sweepLimits(store);
    assert.equal(first[0], PROBE);
    assert.ok(first.includes(BULK_RECORD_JOBS), `full records by the end: ${first.join(", ")}`);

    // The second pass: the dear cohort; a call joins it partway.
    perItemMs = 0.02;
    let joinedAt = -1;
    let joined: Promise<void> | undefined;
    const turns = slicedTurns(now, () => {
      const swept = cohort - live.cancelled.size;
      if (joined === undefined && swept >= cohort / 4) {
        joinedAt = swept;
        joined = queue.reapNow();
      }
    });
    try {
      await until(() => turns.seen > 3);
      clock.advance(10_000);
      await queue.reapNow();
      await joined;
    } finally {
      turns.stop();
    }
    assert.equal(live.cancelled.size, 0);
    const second = (await sweepLimits(store)).slice(first.length);
    assert.equal(second[0], PROBE, "the first record of a later pass is a probe again");
    assert.ok(turns.worst <= 2 * SLICE_MS, `a turn of ${turns.worst.toFixed(2)} ms of sweeping`);
    // Each record but the last drops its limit: the records before the join
    // add up to what was swept when it joined.
    let upTo = 0;
    let next = 0;
    while (upTo < joinedAt) upTo += second[next++]!;
    assert.equal(upTo, joinedAt, `the join fell between two records: ${second.join(", ")}`);
    assert.ok(
      second[next]! > PROBE,
      `the record after the join is sized to the slice, not a probe: ${second.join(", ")}`,
    );
    await queue.flush();
    assert.equal(stateDigest(await replayedState(store, "q")), stateDigest(live));
    await queue.close();
  });
});

describe("a sweep of tombstones", () => {
  it("walks its queue's tree once, dropping the oldest up to the limit and the cut-off", () => {
    const jobs = new CancelledJobs();
    for (let i = 0; i < 1_000; i++) jobs.add(`j${i}`, i % 2, 1_000 + i, HISTORY);
    const proto = BTree.prototype as unknown as Record<string, (...args: unknown[]) => unknown>;
    const walks = { count: 0 };
    const original = proto.editRange!;
    proto.editRange = function (this: unknown, ...args: unknown[]) {
      walks.count++;
      return original.apply(this, args);
    };
    try {
      jobs.sweep(0, 1_000 + 600, 200);
    } finally {
      proto.editRange = original;
    }
    assert.equal(walks.count, 1, "one walk of the tree for the whole record");
    assert.equal(jobs.size, 800);
    for (let i = 0; i < 1_000; i++)
      assert.equal(jobs.has(`j${i}`), i % 2 === 1 || i >= 400, `j${i}`);
    jobs.sweep(0, 1_000 + 600, 1_000);
    assert.equal(jobs.size, 700, "none cancelled at the cut-off or later");
    assert.equal(jobs.has("j598"), false);
    assert.equal(jobs.has("j600"), true);
    jobs.sweep(0, 1_000 + 600, 0);
    assert.equal(jobs.size, 700, "a limit of none drops none");
    jobs.sweep(0, 1_000_000, Number.NaN);
    assert.equal(jobs.size, 700, "nor does a limit that is not a number");
    const view = jobs.freeze();
    assert.equal(view.size, 700);
    assert.equal(
      view.encodedBytes,
      [...view.entries()].reduce((sum, entry) => sum + 1 + entry.length, 0),
    );
    jobs.sweep(1, 1_000_000, 10_000);
    jobs.sweep(0, 1_000_000, 10_000);
    assert.equal(jobs.size, 0);
    assert.equal(view.size, 700, "a frozen view keeps what it froze");
    assert.equal([...view.entries()].length, 700);
  });
});
