/**
 * The claims a previous writer left, settled at open in commits sized by the
 * time left in a slice: a slice that has to settle costly claims (caller ids
 * at a million jobs, a loaded core) ends near its budget instead of after a
 * fixed group of claims.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { apply } from "../../src/queue/apply.js";
import { decodeHistory } from "../../src/queue/history.js";
import {
  INTERRUPTED_MIN_PER_COMMIT,
  INTERRUPTED_MS_PER_CLAIM,
  INTERRUPTED_PER_COMMIT,
  settleInterruptedSlice,
} from "../../src/queue/interrupted.js";
import type { QueueRecord } from "../../src/queue/records/codec.js";
import { Tag } from "../../src/queue/records/tags.js";
import { State } from "../../src/queue/state.js";
import { SliceBudget, StepSizer } from "../../src/util/slices.js";
import { enqueuer, NOW } from "./state-jobs.js";

/** `count` jobs of queue "q", all claimed, the later half with caller ids. */
function claimedJobs(count: number, maxAttempts: number): State {
  const state = new State();
  const enqueue = enqueuer({ maxAttempts });
  for (let i = 0; i < count; i++) {
    const id = enqueue(state, i < count / 2 ? {} : { jobId: `order-${i}` });
    apply(state, { tag: Tag.Claim, id, at: NOW });
  }
  return state;
}

/**
 * A core whose commits apply the records and take `msPerClaim` of a
 * hand-driven monotonic clock per record: the slices and the steps read it.
 */
function timedCore(state: State, msPerClaim: number) {
  let monotonic = 0;
  const commits: number[] = [];
  return {
    now: () => monotonic,
    commits,
    core: {
      state,
      now: () => NOW + 1_000,
      commitInBackground(records: readonly QueueRecord[]): Promise<void> {
        for (const record of records) apply(state, record);
        monotonic += records.length * msPerClaim;
        commits.push(records.length);
        return Promise.resolve();
      },
    },
  };
}

/** A 4 ms slice and the open's commit sizer, on the test's clock. */
function openSlices(now: () => number): { budget: SliceBudget; steps: StepSizer } {
  return {
    budget: new SliceBudget(4, now),
    steps: new StepSizer(
      INTERRUPTED_MIN_PER_COMMIT,
      INTERRUPTED_PER_COMMIT,
      INTERRUPTED_MS_PER_CLAIM,
      now,
    ),
  };
}

describe("interrupted claims at open", () => {
  it("a slice of costly claims ends near its budget: commits are sized to the time left", () => {
    const state = claimedJobs(3_000, 3);
    const qs = state.queues.get("q")!;
    // 50 µs per claim: a fixed group of 256 would be 12.8 ms, three times a 4 ms slice.
    const timed = timedCore(state, 0.05);
    const { budget, steps } = openSlices(timed.now);
    const slices: number[] = [];
    let settled = 0;
    while (qs.claimed.size > 0) {
      budget.start();
      const from = timed.now();
      settled += settleInterruptedSlice(timed.core, qs, budget, steps);
      slices.push(timed.now() - from);
    }
    assert.equal(settled, 3_000);
    assert.equal(qs.pending.size, 3_000);
    // The first commit is sized by the first estimate (and overruns); once timed, every
    // slice ends within one step of the smallest size past its budget.
    for (const ms of slices.slice(1))
      assert.ok(ms <= 4 + INTERRUPTED_MIN_PER_COMMIT * 0.05, `a slice took ${ms} ms`);
    assert.ok(Math.max(...timed.commits.slice(1)) <= 80, `commits of ${timed.commits}`);
  });

  it("cheap claims go in commits of the largest size, several per slice", () => {
    const state = claimedJobs(3_000, 1);
    const qs = state.queues.get("q")!;
    const timed = timedCore(state, 0.001);
    const { budget, steps } = openSlices(timed.now);
    budget.start();
    const settled = settleInterruptedSlice(timed.core, qs, budget, steps);
    assert.equal(settled, 3_000);
    assert.ok(timed.commits.every((n) => n <= INTERRUPTED_PER_COMMIT));
    assert.equal(timed.commits.length, Math.ceil(3_000 / INTERRUPTED_PER_COMMIT));
    // Out of attempts: every claim went dead, the caller ids' by-id index with them.
    assert.equal(qs.deadById.size, 3_000);
    assert.equal(state.jobIds.size, 1_500);
  });

  it("a slice with no time left still settles one commit of the smallest size", () => {
    const state = claimedJobs(100, 3);
    const qs = state.queues.get("q")!;
    const timed = timedCore(state, 1);
    const budget = new SliceBudget(0, timed.now);
    const steps = new StepSizer(INTERRUPTED_MIN_PER_COMMIT, INTERRUPTED_PER_COMMIT, 1, timed.now);
    budget.start();
    assert.equal(settleInterruptedSlice(timed.core, qs, budget, steps), INTERRUPTED_MIN_PER_COMMIT);
    assert.equal(qs.claimed.size, 100 - INTERRUPTED_MIN_PER_COMMIT);
  });

  it("gives the claims of a batch, requeued alike, one shared history object instead of one each", () => {
    const state = new State();
    const enqueue = enqueuer({ maxAttempts: 3 });
    const ids: string[] = [];
    for (let i = 0; i < 50; i++) {
      const id = enqueue(state, {});
      apply(state, { tag: Tag.Claim, id, at: NOW });
      ids.push(id);
    }
    const qs = state.queues.get("q")!;
    const timed = timedCore(state, 0);
    const budget = new SliceBudget(60_000);
    budget.start();
    const steps = new StepSizer(INTERRUPTED_MIN_PER_COMMIT, INTERRUPTED_PER_COMMIT, 0.01);
    assert.equal(settleInterruptedSlice(timed.core, qs, budget, steps), 50);
    const extras = ids.map((id) => state.table.extras(state.find(id)));
    assert.ok(extras.every((e) => e === extras[0]));
    assert.deepEqual(decodeHistory(extras[0]!.history!), [
      { attempt: 1, claimedAt: NOW, recordedAt: NOW + 1_000, outcome: "interrupted" },
    ]);
    // A job's next attempt gives it a history of its own; the others keep theirs.
    apply(state, { tag: Tag.Claim, id: ids[0]!, at: NOW + 2_000 });
    apply(state, { tag: Tag.Ack, id: ids[0]!, keep: true, at: NOW + 3_000 });
    assert.equal(decodeHistory(state.table.extras(state.find(ids[0]!))!.history!).length, 2);
    assert.equal(decodeHistory(state.table.extras(state.find(ids[1]!))!.history!).length, 1);
  });

  it("stops when a commit settles nothing (the log refused it)", () => {
    const state = claimedJobs(100, 3);
    const qs = state.queues.get("q")!;
    let calls = 0;
    const core = {
      state,
      now: () => NOW,
      commitInBackground: (): Promise<void> => {
        calls++;
        return Promise.resolve();
      },
    };
    const budget = new SliceBudget(60_000);
    budget.start();
    const steps = new StepSizer(INTERRUPTED_MIN_PER_COMMIT, INTERRUPTED_PER_COMMIT, 0.01);
    assert.equal(settleInterruptedSlice(core, qs, budget, steps), 0);
    assert.equal(calls, 1);
    assert.equal(qs.claimed.size, 100);
  });
});
