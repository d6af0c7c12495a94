import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { silentLogger } from "../../src/logger.js";
import { PRIORITY_HIGH, PRIORITY_LOW } from "../../src/queue/types.js";
import { MemoryStore } from "../../src/store/memory.js";
import { FaultStore } from "../../src/store/wrappers/fault.js";
import { runWorker } from "../../src/worker/run-worker.js";
import { openTestQueue, rejection } from "../queue/helpers.js";
import { runAndKill } from "./kill.js";
import { openOn, STORES, tempDir, text, turns } from "./stores.js";

for (const kind of STORES) {
  describe(`claimBatch on ${kind.name}`, { timeout: 60_000 }, () => {
    it("claims up to max jobs in claim order, each with its own lease; the rest come next", async () => {
      const { queue, clock } = await openOn(kind);
      await queue.enqueue("q", "low", { priority: PRIORITY_LOW });
      const ids = await queue.enqueueBatch("q", ["a", "b", "c"]);
      await queue.enqueue("q", "high", { priority: PRIORITY_HIGH });
      const first = await queue.claimBatch("q", 3, { leaseMs: 5_000 });
      assert.deepEqual(
        first.map((c) => text(c.payload)),
        ["high", "a", "b"],
      );
      for (const claim of first) {
        assert.equal(claim.status, "claimed");
        assert.equal(claim.attempts, 1);
        assert.equal(claim.leaseExpiresAt, clock.now() + 5_000);
      }
      const second = await queue.claimBatch("q", 3);
      assert.deepEqual(
        second.map((c) => text(c.payload)),
        ["c", "low"],
      );
      assert.deepEqual(await queue.claimBatch("q", 3), []);
      // Each claim settles on its own.
      await queue.ack(first[1]!);
      await queue.nack(first[2]!, "no");
      assert.equal((await queue.getJob(ids[0]!))?.status ?? "gone", "gone");
      assert.equal((await queue.stats("q")).claimed, 3);
      await queue.close();
    });

    it("max 0 claims nothing and leaves the job claimable; a bad max is refused", async () => {
      const { queue } = await openOn(kind);
      await queue.enqueue("q", "x");
      assert.deepEqual(await queue.claimBatch("q", 0), []);
      for (const bad of [-1, 1.5, 1_001, Number.NaN, "2"]) {
        const error = await rejection(queue.claimBatch("q", bad as number));
        assert.equal(error.code, "INVALID_ARGUMENT", String(bad));
        assert.match(error.message, /`max`/);
      }
      assert.equal((await queue.claimBatch("q", 1)).length, 1);
      await queue.close();
    });

    it("a batch's attempts survive a close and reopen: the claims are requeued with attempts kept", async () => {
      const opened = await openOn(kind);
      await opened.queue.enqueueBatch("q", ["a", "b", "c"]);
      const claims = await opened.queue.claimBatch("q", 3);
      assert.equal(claims.length, 3);
      await opened.queue.close();
      const queue = await opened.reopen();
      const again = await queue.claimBatch("q", 10);
      assert.deepEqual(
        again.map((c) => [text(c.payload), c.attempts]),
        [
          ["a", 2],
          ["b", 2],
          ["c", 2],
        ],
      );
      await queue.close();
    });

    it("a waiter takes up to its max of the jobs that arrive together; the next waiter the rest", async () => {
      const { queue, clock } = await openOn(kind);
      const big = queue.claimBatch("q", 2, { waitMs: 10_000 });
      const small = queue.claimBatch("q", 5, { waitMs: 10_000 });
      const last = queue.claimBatch("q", 5, { waitMs: 10_000 });
      await turns();
      await queue.enqueueBatch("q", ["1", "2", "3"]);
      assert.deepEqual(
        (await big).map((c) => text(c.payload)),
        ["1", "2"],
      );
      assert.deepEqual(
        (await small).map((c) => text(c.payload)),
        ["3"],
      );
      clock.advance(10_000);
      assert.deepEqual(await last, []);
      await queue.close();
    });
  });
}

describe("claimBatch durability", { timeout: 60_000 }, () => {
  it("resolves only once the batch is durable; a failed write hands out none of it", async () => {
    const faults = new FaultStore(new MemoryStore());
    const { queue } = await openTestQueue(
      { log: { logger: silentLogger, retry: { baseDelayMs: 1, maxDelayMs: 1, maxElapsedMs: 20 } } },
      faults,
    );
    await queue.enqueueBatch("q", ["a", "b"]);
    const hold = faults.pause({ op: "put", keyPrefix: "q/wal/" });
    let settled = false;
    const batch = queue.claimBatch("q", 2);
    batch.then(
      () => {
        settled = true;
      },
      () => {
        settled = true;
      },
    );
    await hold.whenHeld();
    await turns();
    assert.equal(settled, false, "the batch waits for its record");
    assert.deepEqual(await queue.claimBatch("q", 2), [], "nobody else gets those jobs");
    faults.addRule({ op: "put", keyPrefix: "q/wal/", mode: "before" });
    hold.release();
    assert.equal((await rejection(batch)).code, "STORAGE");
  });

  it("SIGKILL right after a batch was handed out: every claim counted its attempt", async () => {
    const dir = await tempDir();
    const [report] = (await runAndKill(dir, "claim-batch", 4)) as {
      claimed: { id: string; attempts: number }[];
    }[];
    assert.equal(report?.claimed.length, 4);
    const { Queue } = await import("../../src/queue/queue.js");
    const { FileStore } = await import("../../src/store/file.js");
    const queue = await Queue.open(new FileStore(dir, { fsync: false }), "q", {
      logger: silentLogger,
    });
    for (const { id } of report!.claimed) {
      const job = await queue.getJob(id);
      assert.equal(job?.status, "pending", "an interrupted claim is requeued at open");
      assert.equal(job?.attempts, 1, "the killed delivery counts");
    }
    await queue.close();
  });
});

describe("runWorker claims batches sized to its free capacity", { timeout: 60_000 }, () => {
  it("fills all slots with one batch, then claims one per freed slot", async () => {
    const { queue } = await openTestQueue();
    await queue.enqueueBatch(
      "q",
      Array.from({ length: 10 }, (_, i) => `${i}`),
    );
    const asked: number[] = [];
    const claimBatch = queue.claimBatch.bind(queue);
    queue.claimBatch = (name, max, options) => {
      asked.push(max);
      return claimBatch(name, max, options);
    };
    const gates: Array<() => void> = [];
    let peak = 0;
    let running = 0;
    const shutdown = new AbortController();
    const worker = runWorker(
      queue,
      "q",
      async () => {
        running++;
        peak = Math.max(peak, running);
        await new Promise<void>((resolve) => gates.push(resolve));
        running--;
      },
      // No prefetch: every batch is exactly what the freed slots need.
      { concurrency: 4, prefetch: 0, signal: shutdown.signal, pollIntervalMs: 50 },
    );
    while (gates.length < 4) await turns(1);
    assert.deepEqual(asked, [4], "one batch fills every slot");
    gates.shift()!();
    while (gates.length < 4) await turns(1);
    assert.deepEqual(asked, [4, 1], "a freed slot is refilled by a batch of one");
    for (const open of gates.splice(0, 2)) open();
    while (gates.length < 4) await turns(1);
    assert.equal(asked.at(-1), 2, "two freed slots, one batch of two");
    while ((await queue.stats("q")).done < 10) {
      gates.shift()?.();
      await turns(1);
    }
    shutdown.abort();
    await worker;
    assert.equal(peak, 4);
    await queue.close();
  });
});
