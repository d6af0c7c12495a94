/**
 * runWorker settles the jobs that ended in one turn together with the claim
 * for the slots they freed: one WAL write carries both.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MemoryStore } from "../../src/store/memory.js";
import type { ObjectStore, PutOptions } from "../../src/store/types.js";
import { runWorker } from "../../src/worker/run-worker.js";
import { openTestQueue } from "../queue/helpers.js";

/** A memory store that counts the WAL objects created. */
class WalCounter extends MemoryStore implements ObjectStore {
  walPuts = 0;
  override put(key: string, body: Uint8Array, options?: PutOptions): Promise<void> {
    if (key.includes("/wal/")) this.walPuts++;
    return super.put(key, body, options);
  }
}

describe("runWorker: settlements share writes with claims", { timeout: 30_000 }, () => {
  it("acks of the jobs that ended go in the same WAL write as the next claim batch", async () => {
    const store = new WalCounter();
    const { queue } = await openTestQueue({}, store);
    const jobs = 40;
    const concurrency = 8;
    await queue.enqueueBatch(
      "q",
      Array.from({ length: jobs }, (_, i) => `job ${i}`),
    );
    await queue.flush();
    const before = store.walPuts;
    let handled = 0;
    const shutdown = new AbortController();
    await runWorker(
      queue,
      "q",
      () => {
        if (++handled === jobs) shutdown.abort();
      },
      { concurrency, signal: shutdown.signal },
    );
    await queue.flush();
    assert.equal(handled, jobs);
    const stats = await queue.stats("q");
    assert.deepEqual([stats.pending, stats.claimed, stats.done], [0, 0, jobs]);
    // 5 claim batches of 8; the acks of each batch ride in the next claim's write, the
    // last batch's acks in one write of their own. A write for the acks and another
    // for the claims would make 10.
    const writes = store.walPuts - before;
    assert.ok(writes <= jobs / concurrency + 1, `${writes} WAL writes for ${jobs} jobs`);
    await queue.close();
  });
});
