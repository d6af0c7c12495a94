/**
 * Lease renewal of a batch of claims: one timer renews every claim of the
 * batch still held, each third of the lease; stopped claims and claims whose
 * renewal failed are left alone.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { BatchRenewal } from "../../src/worker/lease-renewal.js";
import { openTestQueue } from "../queue/helpers.js";

/** Lets pending promise reactions run. */
async function turns(n = 3): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
}

describe("BatchRenewal", { timeout: 30_000 }, () => {
  it("renews each held claim of the batch every third of the lease, and no stopped one", async () => {
    const { queue, clock } = await openTestQueue();
    await queue.enqueueBatch("q", ["a", "b", "c"]);
    const claims = await queue.claimBatch("q", 3, { leaseMs: 900 });
    assert.equal(claims.length, 3);
    const renewal = new BatchRenewal(queue, claims, 900);
    const start = clock.now();
    renewal.stop(1);
    clock.advance(300);
    await turns();
    assert.equal(claims[0]!.leaseExpiresAt, start + 300 + 900);
    assert.equal(claims[1]!.leaseExpiresAt, start + 900, "stopped: not renewed");
    assert.equal(claims[2]!.leaseExpiresAt, start + 300 + 900);
    clock.advance(300);
    await turns();
    assert.equal(claims[0]!.leaseExpiresAt, start + 600 + 900);
    // Past the first lease: still held, thanks to the renewals.
    clock.advance(600);
    await turns();
    assert.equal((await queue.getJob(claims[0]!.id))?.status, "claimed");
    assert.ok(claims[1]!.leaseExpiresAt! < clock.now(), "the stopped claim's lease ran out");
    renewal.stop(0);
    renewal.stop(2);
    const last = claims[0]!.leaseExpiresAt;
    clock.advance(900);
    await turns();
    assert.equal(claims[0]!.leaseExpiresAt, last, "every claim stopped: no more renewals");
    await queue.close();
  });

  it("a claim whose renewal fails (settled elsewhere) is dropped; the others are still renewed", async () => {
    const { queue, clock } = await openTestQueue();
    await queue.enqueueBatch("q", ["a", "b"]);
    const claims = await queue.claimBatch("q", 2, { leaseMs: 900 });
    const renewal = new BatchRenewal(queue, claims, 900);
    const start = clock.now();
    await queue.ack(claims[0]!);
    clock.advance(300);
    await turns();
    clock.advance(300);
    await turns();
    assert.equal(claims[1]!.leaseExpiresAt, start + 600 + 900);
    renewal.stop(1);
    await queue.close();
  });
});
