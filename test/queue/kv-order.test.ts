import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { memoryAndFileStores, openTestQueue, text } from "./helpers.js";

/**
 * A KV write to a writable log is decided and committed in the caller's
 * synchronous step, as `enqueue` and `transaction` are: calls made one after
 * another, without awaiting, commit in call order, and a read issued after a
 * write sees it. This holds while the log takes writes; under backpressure a
 * waiting KV write may be overtaken (see `writable` in `src/queue/kv.ts`).
 */
describe("KV writes commit in call order while the log takes writes", { timeout: 60_000 }, () => {
  for (const [storeName, makeStore] of memoryAndFileStores("taquba-kv-order-")) {
    describe(storeName, () => {
      it("a kvPut is not overtaken by a transaction called after it", async () => {
        const { queue, clock, store } = await openTestQueue({}, await makeStore());
        const first = queue.kvPut("k", "first");
        const second = queue.transaction((tx) => tx.kvPut("k", "second"));
        await Promise.all([first, second]);
        assert.equal(text((await queue.kvGet("k"))!), "second");
        // The transaction's check sees the put called before it.
        const put = queue.kvPut("c", "1");
        const checked = queue.transaction((tx) => {
          tx.kvCheck("c", "1");
          tx.kvPut("c", "2");
        });
        await Promise.all([put, checked]);
        assert.equal(text((await queue.kvGet("c"))!), "2");
        await queue.close();
        const reopened = (await openTestQueue({}, store, clock)).queue;
        assert.equal(text((await reopened.kvGet("k"))!), "second");
        assert.equal(text((await reopened.kvGet("c"))!), "2");
        await reopened.close();
      });

      it("kvGet and kvScan called after an unawaited write see it", async () => {
        const { queue } = await openTestQueue({}, await makeStore());
        const put = queue.kvPut("a", "1");
        assert.equal(text((await queue.kvGet("a"))!), "1");
        await put;
        const deleted = queue.kvDelete("a");
        assert.equal(await queue.kvGet("a"), null);
        assert.equal(await deleted, true);
        const set = queue.kvCompareAndSet("b", null, "2");
        assert.deepEqual(
          (await queue.kvScan("")).entries.map((e) => [e.key, text(e.value)]),
          [["b", "2"]],
        );
        assert.equal(await set, true);
        await queue.close();
      });

      it("a kvDelete or kvCompareAndSet is not overtaken by a transaction called after it", async () => {
        const { queue } = await openTestQueue({}, await makeStore());
        await queue.kvPut("d", "x");
        const deleted = queue.kvDelete("d");
        const put = queue.transaction((tx) => tx.kvPut("d", "after"));
        assert.equal(await deleted, true);
        await put;
        assert.equal(text((await queue.kvGet("d"))!), "after");
        const set = queue.kvCompareAndSet("e", null, "cas");
        const checked = queue.transaction((tx) => tx.kvCheck("e", "cas"));
        assert.equal(await set, true);
        await checked;
        await queue.close();
      });
    });
  }
});
