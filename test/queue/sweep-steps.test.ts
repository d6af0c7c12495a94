/**
 * The reaper's sweeps, step by step: each pass probes with small steps
 * before it trusts its estimate of what an item costs (a sweep of jobs
 * dearer than the estimate would otherwise hold one turn for a multiple of
 * a slice), and a sweep of tombstones walks its tree once per record
 * rather than searching it from the root for every tombstone it drops.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { CancelledJobs } from "../../src/queue/cancelled.js";
import { appendAttempt } from "../../src/queue/history.js";
import type { State } from "../../src/queue/state.js";
import { BTree } from "../../src/util/btree.js";
import { SLICE_CLOCK, SLICE_MS } from "../../src/util/slices.js";
import { liveState, replayedState, stateDigest } from "../reliability/lib/audit.js";
import { turnCounter } from "../turns.js";
import { until } from "../until.js";
import { openTestQueue } from "./helpers.js";

const RETENTION_MS = 60_000;
const REAPER_MS = 1_000;
const HISTORY = appendAttempt(undefined, { attempt: 0, recordedAt: 5, outcome: "requeued" });

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
    for (let i = 0; i < total; i += 500) {
      const ids = await queue.enqueueBatch(
        "q",
        Array.from({ length: 500 }, () => "x"),
      );
      await queue.transaction((tx) => {
        for (const id of ids) tx.cancel(id);
      });
    }
    const live = liveState(queue);
    assert.equal(live.cancelled.size, total);
    state = live;

    let worst = 0;
    let turns = 0;
    let last = now();
    const counter = turnCounter(() => {
      const at = now();
      if (turns++ > 2) worst = Math.max(worst, at - last);
      last = at;
    });
    try {
      await until(() => turns > 3);
      clock.advance(RETENTION_MS + REAPER_MS);
      await until(() => live.cancelled.size === 0);
    } finally {
      counter.stop();
    }
    assert.ok(worst <= 2 * SLICE_MS, `a turn of ${worst.toFixed(2)} ms of sweeping`);
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
