import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DashboardSource, STATS_PER_TURN } from "../../src/dashboard/source.js";
import { silentLogger } from "../../src/logger.js";
import { Queue } from "../../src/queue/queue.js";
import { QueueReader } from "../../src/queue/reader.js";
import { MemoryStore } from "../../src/store/memory.js";
import { turnsDuring } from "../turns.js";

describe("dashboard source", { timeout: 60_000 }, () => {
  it("reads the stats of many queues over several turns of the event loop, all of them in order", async () => {
    const queue = await Queue.open(new MemoryStore(), "app", {
      logger: silentLogger,
      flushIntervalMs: 0,
    });
    try {
      const names = Array.from(
        { length: 2 * STATS_PER_TURN + 1 },
        (_, i) => `q-${String(i).padStart(5, "0")}`,
      );
      for (let i = 0; i < names.length; i += 1_000) {
        const chunk = names.slice(i, i + 1_000);
        await queue.transaction((tx) => {
          for (const name of chunk) tx.enqueue(name, "x");
        });
      }
      const source = new DashboardSource(queue, {
        refreshMs: 2_000,
        logger: silentLogger,
        prices: undefined,
        now: () => 0,
      });
      const { result: stats, turns } = await turnsDuring(() => source.allStats());
      assert.deepEqual(
        stats.map((s) => s.queue),
        names,
      );
      assert.ok(
        stats.every((s) => s.pending === 1),
        "every queue's counts",
      );
      // Three chunks: the loop turned between them.
      assert.ok(turns >= 2, `the event loop turned ${turns} times while the stats were read`);
    } finally {
      await queue.close();
    }
  });

  it("shows a reader's page from one snapshot even when a refresh lands between its chunks", async () => {
    const store = new MemoryStore();
    const queue = await Queue.open(store, "app", { logger: silentLogger, flushIntervalMs: 0 });
    try {
      const names = Array.from(
        { length: 3 * STATS_PER_TURN },
        (_, i) => `q-${String(i).padStart(5, "0")}`,
      );
      const enqueueAll = async (payload: string): Promise<void> => {
        for (let i = 0; i < names.length; i += 1_000) {
          const chunk = names.slice(i, i + 1_000);
          await queue.transaction((tx) => {
            for (const name of chunk) tx.enqueue(name, payload);
          });
        }
        await queue.flush();
      };
      await enqueueAll("a");
      const first = await QueueReader.open(store, "app", { logger: silentLogger });
      await enqueueAll("b");
      const second = await QueueReader.open(store, "app", { logger: silentLogger });
      let now = 0;
      let read = false;
      let reopenedDuringRead: boolean | null = null;
      const source = new DashboardSource(first, {
        reopen: () => {
          reopenedDuringRead = !read;
          return Promise.resolve(second);
        },
        refreshMs: 1,
        logger: silentLogger,
        prices: undefined,
        now: () => now,
      });
      const reading = source.allStats().finally(() => {
        read = true;
      });
      // Another request refreshes the snapshot after the first chunk was read.
      await new Promise<void>((resolve) => setImmediate(resolve));
      now = 10;
      const refreshing = source.refresh(true);
      const stats = await reading;
      await refreshing;
      assert.deepEqual(
        stats.map((s) => s.queue),
        names,
      );
      const pendings = new Set(stats.map((s) => s.pending));
      assert.deepEqual([...pendings], [1], "every queue's counts come from the first snapshot");
      // The old reader was not read after a reopen could take its state on.
      assert.equal(reopenedDuringRead, false);
      // The next page reads the new snapshot.
      assert.ok((await source.allStats()).every((s) => s.pending === 2));
    } finally {
      await queue.close();
    }
  });

  it("never rejects a refresh, even when the reopen fails with a value that cannot be a string", async () => {
    const store = new MemoryStore();
    const queue = await Queue.open(store, "app", { logger: silentLogger, flushIntervalMs: 0 });
    try {
      await queue.enqueue("q", "x");
      const reader = await QueueReader.open(store, "app", { logger: silentLogger });
      const warnings: string[] = [];
      const source = new DashboardSource(reader, {
        reopen: () => Promise.reject(Object.create(null)),
        refreshMs: 1,
        logger: { ...silentLogger, warn: (message) => warnings.push(message) },
        prices: undefined,
        now: () => 10,
      });
      await source.refresh(true);
      await source.refresh(true); // warned once while it keeps failing
      assert.equal(warnings.length, 1);
      assert.match(warnings[0]!, /snapshot refresh failed; .*: \[object Object\]/);
      // The page shows the snapshot it has.
      assert.deepEqual(
        (await source.allStats()).map((s) => [s.queue, s.pending]),
        [["q", 1]],
      );
    } finally {
      await queue.close();
    }
  });
});
