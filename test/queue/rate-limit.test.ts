import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InvalidArgumentError } from "../../src/errors.js";
import { silentLogger } from "../../src/logger.js";
import { Queue } from "../../src/queue/queue.js";
import { RateWindow } from "../../src/queue/rate-limit.js";
import { MemoryStore } from "../../src/store/memory.js";
import { runWorker } from "../../src/worker/run-worker.js";
import { until } from "../until.js";
import { openTestQueue, steppedClocks, turns, watch } from "./helpers.js";

const limited = (max: number, perMs: number) => ({
  queueConfigs: { q: { rateLimit: { max, perMs } } },
});

describe("rate limits", { timeout: 30_000 }, () => {
  it("a sliding window allows at most max claims in any perMs", () => {
    const w = new RateWindow(3, 1_000);
    assert.equal(w.available(0), 3);
    w.take(2, 0);
    w.take(1, 500);
    assert.equal(w.available(999), 0);
    assert.equal(w.openAt(999), 1_000);
    assert.equal(w.available(1_000), 2);
    assert.equal(w.available(1_499), 2);
    assert.equal(w.available(1_500), 3);
  });

  it("giveBack uncounts claims taken at one time, keeps later ones, and ignores ones already out of the window", () => {
    const w = new RateWindow(3, 1_000);
    w.take(2, 100);
    w.take(1, 200);
    assert.equal(w.available(300), 0);
    w.giveBack(1, 100, 300);
    assert.equal(w.available(300), 1);
    // The claim of 200 kept its place: the window opens for a second one once 100 leaves it.
    assert.equal(w.available(1_099), 1);
    assert.equal(w.available(1_100), 2);
    assert.equal(w.available(1_199), 2);
    assert.equal(w.available(1_200), 3);
    w.take(1, 1_300);
    w.giveBack(5, 1_300, 1_400); // more than there are: only the one of 1 300
    assert.equal(w.available(1_400), 3);
    w.take(1, 1_500);
    w.giveBack(1, 1_500, 2_600); // already out of the window
    assert.equal(w.available(2_600), 3);
  });

  it("claims get at most max per window; the rest once it opens", async () => {
    const { queue, clock } = await openTestQueue(limited(3, 1_000));
    await queue.enqueueBatch("q", ["1", "2", "3", "4", "5", "6", "7"]);
    await queue.enqueue("other", "free");
    assert.equal((await queue.claimBatch("q", 10)).length, 3);
    assert.equal(await queue.claim("q"), null);
    assert.ok(await queue.claim("other"), "other queues are not limited");
    clock.advance(999);
    assert.deepEqual(await queue.claimBatch("q", 10), []);
    clock.advance(1);
    assert.equal((await queue.claimBatch("q", 2)).length, 2);
    assert.equal((await queue.claimBatch("q", 2)).length, 1);
    await queue.close();
  });

  it("waiting claims are served in order when the window opens, by a timer", async () => {
    const { queue, clock } = await openTestQueue(limited(2, 1_000));
    await queue.enqueueBatch("q", ["a", "b", "c", "d", "e"]);
    assert.equal((await queue.claimBatch("q", 2)).length, 2);
    const order: string[] = [];
    const waits = ["w1", "w2", "w3"].map((name) =>
      queue.claim("q", { waitMs: 10_000 }).then((claim) => {
        order.push(`${name}:${claim === null ? "none" : Buffer.from(claim.payload).toString()}`);
      }),
    );
    await turns();
    assert.deepEqual(order, []);
    clock.advance(1_000);
    await turns();
    assert.deepEqual(order, ["w1:c", "w2:d"]);
    clock.advance(1_000);
    await Promise.all(waits);
    assert.deepEqual(order, ["w1:c", "w2:d", "w3:e"]);
    await queue.close();
  });

  for (const { kind, clock, step } of steppedClocks()) {
    it(`a step forward of a clock taquba cannot see move (${kind}) serves a waiting claim within one scheduler interval`, async () => {
      // Such a clock runs on real time: the interval is short, and so is the wait.
      const queue = await Queue.open(new MemoryStore(), "q", {
        clock,
        logger: silentLogger,
        flushIntervalMs: 0,
        schedulerIntervalMs: 50,
        ...limited(1, 60_000),
      });
      await queue.enqueueBatch("q", ["a", "b"]);
      assert.ok(await queue.claim("q", { leaseMs: 600_000 }));
      const waiting = queue.claim("q", { waitMs: 600_000 });
      const served = watch(waiting);
      await turns();
      assert.equal(served.settled(), false);
      step(61_000);
      // Without re-reading the clock, the window's timer armed before the step waits a real minute.
      await until(served.settled, "the waiting claim served", 500);
      const claim = await waiting;
      assert.equal(claim === null ? null : Buffer.from(claim.payload).toString(), "b");
      await queue.close();
    });
  }

  it("runWorker workers share the limit: no window ever holds more than max claims", async () => {
    const { queue, clock } = await openTestQueue(limited(5, 1_000));
    await queue.enqueueBatch(
      "q",
      Array.from({ length: 40 }, (_, i) => String(i)),
    );
    const claimedAt: number[] = [];
    const stop = new AbortController();
    const handler = () => {
      claimedAt.push(clock.monotonicNow());
    };
    const workers = [1, 2, 3].map(() =>
      runWorker(queue, "q", handler, {
        concurrency: 4,
        signal: stop.signal,
        pollIntervalMs: 60_000,
      }),
    );
    for (let step = 0; step < 100; step++) {
      await turns(3);
      clock.advance(100);
    }
    await turns();
    stop.abort();
    await Promise.all(workers);
    assert.equal(claimedAt.length, 40);
    claimedAt.sort((a, b) => a - b);
    for (let i = 0; i + 5 < claimedAt.length; i++)
      assert.ok(
        claimedAt[i + 5]! - claimedAt[i]! >= 1_000,
        `six claims within 1 s at ${claimedAt[i]}`,
      );
    // And the limit is used: 40 jobs at 5 per second take about 8 seconds.
    assert.ok(
      claimedAt.at(-1)! - claimedAt[0]! <= 8_100,
      `took ${claimedAt.at(-1)! - claimedAt[0]!} ms`,
    );
    await queue.close();
  });

  it("a bad rateLimit is refused at open, naming it", async () => {
    for (const [rateLimit, field] of [
      [{ max: 0, perMs: 1_000 }, "rateLimit.max"],
      [{ max: 2, perMs: 0 }, "rateLimit.perMs"],
      [{ max: 2_000_000, perMs: 10 }, "rateLimit.max"],
      [5, "rateLimit"],
    ] as const) {
      await assert.rejects(
        openTestQueue({ defaultQueueConfig: { rateLimit: rateLimit as never } }),
        (e: unknown) =>
          e instanceof InvalidArgumentError && e.message.includes(`defaultQueueConfig.${field}\``),
      );
    }
  });
});
