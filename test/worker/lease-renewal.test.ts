/**
 * Lease renewal of a batch of claims: one timer renews every claim of the
 * batch still held, each third of the lease; stopped claims and claims whose
 * renewal failed are left alone.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { timerClockOf } from "../../src/queue/time.js";
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
    const renewal = new BatchRenewal(queue, timerClockOf(queue), [...claims], 900);
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

  it("the reaper renews a claim it renews when one clock step passes its lease, and reaps a stopped one", async () => {
    const { queue, clock } = await openTestQueue({ reaperIntervalMs: 100 });
    const ids = await queue.enqueueBatch("q", ["a", "b"]);
    const claims = await queue.claimBatch("q", 2, { leaseMs: 900 });
    const renewal = new BatchRenewal(queue, timerClockOf(queue), [...claims], 900);
    renewal.stop(1);
    // The reaper's timer was armed first, so it fires first: before the overdue renewal.
    clock.advance(5_000);
    await turns();
    const kept = await queue.getJob(ids[0]!);
    assert.equal(kept?.status, "claimed");
    assert.ok(kept.leaseExpiresAt! > clock.now());
    assert.equal((await queue.getJob(ids[1]!))?.status, "pending", "stopped: reaped as before");
    renewal.stop(0);
    clock.advance(5_000);
    await turns();
    assert.equal((await queue.getJob(ids[0]!))?.status, "pending", "once stopped, reaped");
    await queue.close();
  });

  it("a reaper pass renews the claims a worker renews in slices, and still reaps the others behind them", async () => {
    const { queue, clock } = await openTestQueue({ reaperIntervalMs: 100 });
    (queue as unknown as Record<symbol, (ms: number) => void>)[Symbol.for("taquba.setSliceMs")]!(0);
    await queue.enqueueBatch(
      "q",
      Array.from({ length: 100 }, (_, i) => `renewed ${i}`),
    );
    const lost = await queue.enqueue("q", "not renewed");
    const claims = await queue.claimBatch("q", 100, { leaseMs: 900 });
    await queue.claimBatch("q", 1, { leaseMs: 900 }); // after the others in the expiry order
    const renewal = new BatchRenewal(queue, timerClockOf(queue), [...claims], 900);
    // The reaper's timer was armed first, so it fires first; its slices (of the fewest
    // leases, at this slice length) renew only, until one reaches the claim nobody renews.
    clock.advance(5_000);
    await turns();
    assert.equal((await queue.getJob(lost))?.status, "pending", "reaped in the same pass");
    assert.equal((await queue.stats("q")).claimed, 100, "every renewed claim kept");
    for (let i = 0; i < 100; i++) renewal.stop(i);
    await queue.close();
  });

  it("a claim whose renewal fails (settled elsewhere) is dropped; the others are still renewed", async () => {
    const { queue, clock } = await openTestQueue();
    await queue.enqueueBatch("q", ["a", "b"]);
    const claims = await queue.claimBatch("q", 2, { leaseMs: 900 });
    const renewal = new BatchRenewal(queue, timerClockOf(queue), [...claims], 900);
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

describe("BatchRenewal: what it lets go", { timeout: 30_000 }, () => {
  it("a stopped claim is no longer held (its payload can be collected while the batch runs on)", async () => {
    const { queue } = await openTestQueue();
    await queue.enqueueBatch("q", ["a", "b", "c"]);
    const renewal = new BatchRenewal(
      queue,
      timerClockOf(queue),
      await queue.claimBatch("q", 3, { leaseMs: 900 }),
      900,
    );
    assert.equal(renewal.held, 3);
    renewal.stop(0);
    renewal.stop(2);
    assert.equal(renewal.held, 1);
    renewal.stop(1);
    assert.equal(renewal.held, 0);
    await queue.close();
  });

  it("a claim whose renewal failed is not tried again", async () => {
    const { queue, clock } = await openTestQueue();
    await queue.enqueueBatch("q", ["a", "b"]);
    const claims = await queue.claimBatch("q", 2, { leaseMs: 900 });
    const tried: string[] = [];
    const renewLease = queue.renewLease.bind(queue);
    queue.renewLease = (claim, extensionMs) => {
      tried.push(claim.id);
      return renewLease(claim, extensionMs);
    };
    const renewal = new BatchRenewal(queue, timerClockOf(queue), [...claims], 900);
    await queue.ack(claims[0]!);
    for (let i = 0; i < 3; i++) {
      clock.advance(300);
      await turns();
    }
    assert.deepEqual(
      tried.filter((id) => id === claims[0]!.id).length,
      1,
      "the settled claim's renewal failed once and was dropped",
    );
    assert.equal(tried.filter((id) => id === claims[1]!.id).length, 3);
    renewal.stop(1);
    await queue.close();
  });

  it("cancels its timer once the last claim stops", async () => {
    const { queue, clock } = await openTestQueue();
    let timers = 0;
    const onAdvance = clock.onAdvance.bind(clock);
    clock.onAdvance = (listener) => {
      timers++;
      const unsubscribe = onAdvance(listener);
      let done = false;
      return () => {
        if (!done) {
          done = true;
          timers--;
        }
        unsubscribe();
      };
    };
    await queue.enqueueBatch("q", ["a", "b"]);
    const claims = await queue.claimBatch("q", 2, { leaseMs: 900 });
    const before = timers;
    const renewal = new BatchRenewal(queue, timerClockOf(queue), [...claims], 900);
    assert.equal(timers, before + 1, "one timer for the batch");
    clock.advance(300);
    await turns();
    assert.equal(timers, before + 1, "re-armed after renewing");
    renewal.stop(0);
    assert.equal(timers, before + 1, "a claim is still renewed");
    renewal.stop(1);
    assert.equal(timers, before, "no timer left once every claim stopped");
    await queue.close();
  });
});
