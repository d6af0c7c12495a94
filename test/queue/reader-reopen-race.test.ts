import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { silentLogger } from "../../src/logger.js";
import { Queue } from "../../src/queue/queue.js";
import { QueueReader } from "../../src/queue/reader.js";
import { listAll } from "../../src/store/types.js";
import { ListHookStore } from "./reader-helpers.js";

const pendingOf = (r: QueueReader) => r.stats("work").pending;

describe("QueueReader.reopen: a takeover between its manifest read and its WAL listing", () => {
  for (const salvage of [true, false]) {
    it(`reads the log in full, as a fresh open would (salvage: ${salvage})`, async () => {
      const store = new ListHookStore();
      const first = await Queue.open(store, "q", { logger: silentLogger });
      await first.enqueue("work", "before");
      await first.close();
      const crashed = await Queue.open(store, "q", { logger: silentLogger });
      const walBefore = new Set((await listAll(store, "q/wal/")).map((o) => o.key));
      for (let i = 0; i < 5; i++) await crashed.enqueue("work", `after ${i}`);
      const batches = (await listAll(store, "q/wal/")).filter((o) => !walBefore.has(o.key));
      const reader = await QueueReader.open(store, "q");
      assert.equal(pendingOf(reader), 6);
      let pre = -1;
      let post = -1;
      let second: Queue | null = null;
      store.hook = {
        prefix: "q/wal/",
        run: async () => {
          pre = pendingOf(
            (await QueueReader.open(store, "q").catch(() => null as never)) ??
              ({ stats: () => ({ pending: -2 }) } as never),
          );
          if (salvage) {
            const damaged = batches.at(-3)!.key;
            const body = (await store.get(damaged))!.body.slice();
            body[Math.floor(body.byteLength / 2)]! ^= 0xff;
            await store.put(damaged, body);
          }
          second = await Queue.open(store, "q", {
            logger: silentLogger,
            log: { recoverCorruption: "skip" },
          });
          await second.enqueue("work", "by second");
          post = pendingOf(await QueueReader.open(store, "q"));
        },
      };
      const after = await reader.reopen();
      const got = pendingOf(after);
      const fresh = pendingOf(await QueueReader.open(store, "q"));
      const again = pendingOf(await after.reopen());
      assert.ok(
        got === pre || got === post,
        `reopened reader shows ${got}; before the takeover ${pre}, after ${post}`,
      );
      // Nothing was written since: the next reopen answers as a fresh open.
      assert.equal(again, fresh);
      assert.equal(fresh, post);
      await (second as Queue | null)?.close();
      await crashed.close().catch(() => {});
    });
  }
});
