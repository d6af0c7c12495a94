import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { hugePayload, manyQueues, sameInstant, throughOneProcess } from "./lib/load.js";

/** Fast sizes; `npm run torture` runs 1M jobs, 10k queues, 100k scheduled jobs and stores 100 MiB. */
describe("load (fast form)", { timeout: 180_000 }, () => {
  it("50,000 jobs through one process with bounded memory", async () => {
    const result = await throughOneProcess(50_000);
    assert.equal(result.doneAfterReopen, 50_000, "every ack survives a reopen");
    // Retained after a full GC: about 2 MiB on Node 20 and 22; a leak of 300 B per job would be 14.
    assert.ok(
      result.heapGrowthMiB < 16,
      `retained heap grew by ${result.heapGrowthMiB.toFixed(1)} MiB, expected under 16`,
    );
  });

  it("10,000 queues: listed, counted and claimable after a reopen", async () => {
    const result = await manyQueues(10_000);
    assert.equal(result.pendingAfterReopen, 10_000, "each reopened queue counts its one job");
  });

  it("20,000 scheduled jobs due at the same instant are promoted together, FIFO", async () => {
    const result = await sameInstant(20_000);
    assert.ok(result.promoteMs < 5_000, `promotion took ${result.promoteMs} ms`);
  });

  it("a 100 MiB payload is rejected with INVALID_ARGUMENT under the default 16 MiB limit", async () => {
    const result = await hugePayload(false);
    assert.equal(result.rejected, true);
  });
});
