// Owns how taquba's own turns meet a test's fake timers (src/util/timers.ts): they use Node's
// `setImmediate` as it was when taquba loaded, so fake timers that stop time (node:test's
// `mock.timers`, patching the globals and `node:timers`) never stall a call. The CommonJS
// build is checked the same way in test/package/install.test.ts.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { silentLogger } from "../../src/logger.js";
import { Queue } from "../../src/queue/queue.js";
import { MemoryStore } from "../../src/store/memory.js";
import { nextTurn } from "../../src/util/slices.js";
import { refreshTimer } from "../../src/util/timers.js";

describe("taquba's turns under fake timers", () => {
  it("enqueue, claim and ack complete while mock.timers holds time still", async (t) => {
    const realSetTimeout = setTimeout;
    const realClearTimeout = clearTimeout;
    const queue = await Queue.open(new MemoryStore(), "app", { logger: silentLogger });
    t.mock.timers.enable();
    let guard: NodeJS.Timeout | undefined;
    try {
      const outcome = await Promise.race([
        (async () => {
          await nextTurn();
          const id = await queue.enqueue("q", "x");
          const [claim] = await queue.claimBatch("q", 1, { waitMs: 0 });
          assert.equal(claim?.id, id);
          await queue.ack(claim!);
          return `done ${(await queue.stats("q")).done}`;
        })(),
        new Promise((resolve) => {
          guard = realSetTimeout(() => resolve("stuck behind the fake timers"), 5_000);
        }),
      ]);
      assert.equal(outcome, "done 1");
    } finally {
      realClearTimeout(guard);
      t.mock.timers.reset();
      await queue.close();
    }
  });
});

describe("refreshTimer", () => {
  it("refreshes a Timeout in place, and arms a numbered timer anew", () => {
    const timeout = setTimeout(() => {}, 60_000);
    assert.equal(
      refreshTimer(timeout, () => assert.fail("a Timeout is refreshed, not re-armed")),
      timeout,
    );
    clearTimeout(timeout);
    // A number no Node timer has (one made into a number is the only kind cleared by it).
    let armed = 0;
    const rearmed = refreshTimer(1e9, () => 1e9 + ++armed);
    assert.deepEqual([rearmed, armed], [1e9 + 1, 1]);
  });
});
