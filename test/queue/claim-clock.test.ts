/**
 * Reading the clock when a batch of claims is handed out: its leases end
 * together, so the batch reads the clocks once, not once per claim.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ManualClock } from "../../src/clock.js";
import { openTestQueue } from "./helpers.js";

/** A manual clock that counts how often each of its times is read. */
class CountingClock extends ManualClock {
  wallReads = 0;
  monotonicReads = 0;
  override now(): number {
    this.wallReads++;
    return super.now();
  }
  override monotonicNow(): number {
    this.monotonicReads++;
    return super.monotonicNow();
  }
}

describe("handing out a batch of claims", () => {
  it("reads the clocks a fixed number of times, whatever the batch size", async () => {
    const clock = new CountingClock();
    const { queue } = await openTestQueue({}, undefined, clock);
    await queue.enqueueBatch(
      "work",
      Array.from({ length: 64 }, (_, i) => `job ${i}`),
    );
    const reads = async (count: number): Promise<number> => {
      clock.wallReads = 0;
      clock.monotonicReads = 0;
      const claims = await queue.claimBatch("work", count, { leaseMs: 30_000 });
      assert.equal(claims.length, count);
      // One lease end for the batch, as wall time.
      assert.equal(new Set(claims.map((c) => c.leaseExpiresAt)).size, 1);
      assert.equal(claims[0]!.leaseExpiresAt, clock.now() + 30_000);
      return clock.wallReads + clock.monotonicReads;
    };
    const one = await reads(1);
    const many = await reads(48);
    assert.ok(many <= one + 2, `48 claims read the clocks ${many} times, one claim ${one}`);
    await queue.close();
  });
});
