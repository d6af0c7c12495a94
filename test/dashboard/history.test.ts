import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { History } from "../../src/dashboard/history.js";
import type { QueueStats } from "../../src/queue/types.js";

function stats(queue: string, pending: number, done: number): QueueStats {
  return { queue, pending, scheduled: 1, claimed: 2, done, dead: 3 } as QueueStats;
}

describe("dashboard history", () => {
  it("sums every queue into the series of all queues, bucket by bucket", () => {
    const history = new History(1_000, 4);
    history.count("a", "enqueued", 10_100);
    history.count("b", "enqueued", 10_200);
    history.count("b", "completed", 10_300);
    history.count("a", "failed", 11_000);
    history.sample([stats("a", 5, 0), stats("b", 7, 0)], 11_500, false);
    history.sample([stats("a", 4, 0), stats("b", 6, 0)], 11_900, false); // the bucket's last
    const all = history.series(null, 12_000).buckets;
    assert.deepEqual(
      all.map((b) => b.start),
      [9_000, 10_000, 11_000, 12_000],
    );
    assert.deepEqual(all[0], { start: 9_000, enqueued: 0, completed: 0, failed: 0 });
    assert.deepEqual(all[1], { start: 10_000, enqueued: 2, completed: 1, failed: 0 });
    assert.deepEqual(all[2], {
      start: 11_000,
      enqueued: 0,
      completed: 0,
      failed: 1,
      depth: { pending: 10, scheduled: 2, claimed: 4, dead: 6 },
    });
    assert.deepEqual(history.series("b", 12_000).buckets[1], {
      start: 10_000,
      enqueued: 1,
      completed: 1,
      failed: 0,
    });
    // Old buckets fall off the window of all queues as of each queue.
    history.count("a", "enqueued", 20_000);
    assert.deepEqual(
      history.series(null, 20_000).buckets.map((b) => b.enqueued),
      [0, 0, 0, 1],
    );
  });

  it("counts a reader's completions from the growth of done, in all queues too", () => {
    const history = new History(1_000, 2);
    history.sample([stats("a", 0, 10), stats("b", 0, 5)], 5_000, true);
    history.sample([stats("a", 0, 13), stats("b", 0, 6)], 6_100, true);
    assert.deepEqual(
      history.series(null, 6_500).buckets.map((b) => b.completed),
      [0, 4],
    );
    assert.equal(history.series("a", 6_500).buckets[1]!.completed, 3);
  });

  it("returns copies: a series read is not changed by later counts", () => {
    const history = new History(1_000, 2);
    history.count("a", "enqueued", 1_000);
    const before = history.series(null, 1_500);
    history.count("a", "enqueued", 1_200);
    assert.equal(before.buckets[1]!.enqueued, 1);
    assert.equal(history.series(null, 1_500).buckets[1]!.enqueued, 2);
  });

  it("keeps the total of the read begun last when an older read lands after it", () => {
    const history = new History(1_000, 4);
    const older = history.beginRead();
    const newer = history.beginRead();
    // A read begun after queue c was created lands first; one begun before it lands second.
    history.sample([stats("a", 1, 0), stats("b", 1, 0), stats("c", 5, 0)], 1_500, false, newer);
    history.sample([stats("a", 1, 0), stats("b", 1, 0)], 1_600, false, older);
    const all = history.series(null, 1_900).buckets.at(-1)!;
    assert.equal(all.depth?.pending, 7);
    const sum = ["a", "b", "c"]
      .map((q) => history.series(q, 1_900).buckets.at(-1)!.depth?.pending ?? 0)
      .reduce((x, y) => x + y);
    assert.equal(sum, 7);
    // A read begun later still replaces it.
    history.sample([stats("a", 2, 0), stats("b", 1, 0), stats("c", 5, 0)], 1_700, false, 1_650);
    assert.equal(history.series(null, 1_900).buckets.at(-1)!.depth?.pending, 8);
  });

  it("keeps each queue's depth and done count of the read begun last when an older read lands after it", () => {
    const history = new History(1_000, 4);
    const older = history.beginRead();
    const newer = history.beginRead();
    history.sample([stats("a", 7, 10), stats("b", 2, 0)], 1_500, true, newer);
    history.sample([stats("a", 3, 4), stats("b", 9, 0)], 1_600, true, older);
    const depth = (queue: string): number | undefined =>
      history.series(queue, 1_900).buckets.at(-1)!.depth?.pending;
    assert.deepEqual([depth("a"), depth("b")], [7, 2]);
    // The older read's done counter is not the baseline either: growth after it is counted once.
    history.sample([stats("a", 7, 12), stats("b", 2, 0)], 1_700, true);
    assert.equal(history.series("a", 1_900).buckets.at(-1)!.completed, 2);
    assert.equal(history.series(null, 1_900).buckets.at(-1)!.completed, 2);
  });

  it("records a depth of 0 for all queues when the newest read finds none", () => {
    const history = new History(1_000, 4);
    history.sample([stats("a", 5, 0)], 1_500, false);
    history.sample([], 1_700, false);
    assert.deepEqual(history.series(null, 1_900).buckets.at(-1)!.depth, {
      pending: 0,
      claimed: 0,
      scheduled: 0,
      dead: 0,
    });
  });

  it("orders reads by when they began, not by the wall clock, which may step back", () => {
    const history = new History(60_000, 60);
    const t = Date.UTC(2030, 0, 1);
    history.sample([stats("a", 1, 0)], t, false);
    history.sample([stats("a", 5, 0)], t + 86_400_000, false); // the clock a day ahead, then corrected
    for (let m = 1; m <= 3; m++) history.sample([stats("a", 10 + m, 0)], t + m * 60_000, false);
    const depths = (queue: string | null): (number | null)[] =>
      history
        .series(queue, t + 3 * 60_000)
        .buckets.slice(-4)
        .map((b) => b.depth?.pending ?? null);
    assert.deepEqual(depths("a"), [null, 11, 12, 13]); // the day ahead pruned the first
    assert.deepEqual(depths(null), [null, 11, 12, 13]);
  });
});
