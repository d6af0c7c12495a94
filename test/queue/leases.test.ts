import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ClaimLostError, InvalidArgumentError } from "../../src/errors.js";
import { LeaseTable } from "../../src/queue/leases.js";
import type { Claim } from "../../src/queue/types.js";
import { MAX_TIMESTAMP_MS } from "../../src/queue/validate.js";
import { claimLostReason, onClaimLost } from "../../src/queue/worker-hooks.js";
import { mustClaim, NO_BACKOFF, openTestQueue, rejection } from "./helpers.js";

describe("leases and the reaper", { timeout: 60_000 }, () => {
  it("an expired lease is requeued by the reaper without backoff; re-claim has attempts 2", async () => {
    const { queue, clock } = await openTestQueue();
    const id = await queue.enqueue("q", "x");
    await mustClaim(queue, "q", 1_000);
    clock.advance(1_000);
    await queue.reapNow();
    const again = await mustClaim(queue, "q");
    assert.equal(again.id, id);
    assert.equal(again.attempts, 2);
    assert.equal(again.lastError, "lease expired");
    await queue.close();
  });

  it("the periodic reaper runs every reaperIntervalMs", async () => {
    const { queue, clock } = await openTestQueue({ reaperIntervalMs: 500 });
    await queue.enqueue("q", "x");
    await mustClaim(queue, "q", 100);
    clock.advance(400);
    assert.equal((await queue.stats("q")).claimed, 1);
    clock.advance(100);
    const stats = await queue.stats("q");
    assert.equal(stats.claimed, 0);
    assert.equal(stats.pending, 1);
    await queue.close();
  });

  it("a claim from claim() (no worker renewing it) is reaped by one clock step past its lease, even one renewed by hand", async () => {
    const { queue, clock } = await openTestQueue(); // default lease 30 s, reaper every 5 s
    const [plain, renewed] = await queue.enqueueBatch("q", ["plain", "renewed"]);
    await mustClaim(queue, "q");
    const byHand = await mustClaim(queue, "q");
    await queue.renewLease(byHand, 30_000);
    clock.advance(31_000);
    await new Promise((resolve) => setImmediate(resolve));
    for (const id of [plain!, renewed!]) {
      const job = await queue.getJob(id);
      assert.deepEqual([job?.status, job?.lastError], ["pending", "lease expired"]);
    }
    await queue.close();
  });

  it("a settled lease lets go of its lost-claim callback, so a claim kept by the application does not keep what it closes over", () => {
    const table = new LeaseTable();
    const lease = table.add(0, "j0", "q");
    table.activate(lease, 100);
    let calls = 0;
    lease.onLost = () => calls++;
    table.settle(lease);
    assert.equal(lease.onLost, undefined);
    lease.lose(new Error("late"));
    assert.equal(calls, 0);
  });

  it("a claim batch's leases, started with one expiry, take one entry of the expiry order until the last is settled", () => {
    const table = new LeaseTable();
    const batch = Array.from({ length: 64 }, (_, job) => table.add(job, `j${job}`, "q"));
    for (const lease of batch) table.activate(lease, 1_000);
    assert.equal(table.expiryEntries, 1);
    for (const lease of batch.slice(0, 63)) table.settle(lease);
    assert.equal(table.expiryEntries, 1);
    assert.equal(table.hasExpired(1_000), true);
    table.settle(batch[63]!);
    assert.equal(table.expiryEntries, 0);
    assert.equal(table.hasExpired(1_000), false);
  });

  it("takeExpired gives leases soonest first, those that run out together in the order they started running", () => {
    const table = new LeaseTable();
    const [a, b, c, d, e, f] = [0, 1, 2, 3, 4, 5].map((job) => table.add(job, `j${job}`, "q"));
    for (const lease of [a!, b!]) table.activate(lease, 100);
    table.activate(c!, 200);
    // The same expiry as the first batch's, after another: a group of its own, after it.
    for (const lease of [d!, e!, f!]) table.activate(lease, 100);
    assert.equal(table.expiryEntries, 3);
    table.settle(e!);
    table.renew(b!, 300);
    assert.deepEqual(table.takeExpired(150, 10), [a, d, f]);
    assert.equal(table.hasExpired(250), true);
    assert.deepEqual(table.takeExpired(1_000, 10), [c, b]);
    assert.equal(table.expiryEntries, 0);
    assert.equal(table.get(1), undefined);
  });

  it("leases that run out at the same time are reaped in the order they started running, not the order they were taken", () => {
    const table = new LeaseTable();
    const [x, a, b, c, y, z] = [0, 1, 2, 3, 4, 5].map((job) => table.add(job, `j${job}`, "q"));
    table.activate(x!, 50);
    for (const lease of [a!, b!, c!]) table.activate(lease, 100);
    // Renewed to the batch's expiry after the batch started running: after it.
    table.renew(x!, 100);
    // Handed out in the other order than taken (a batch whose payloads were
    // still being read when a later one was handed out).
    table.activate(z!, 200);
    table.activate(y!, 200);
    assert.deepEqual(table.takeExpired(1_000, 10), [a, b, c, x, z, y]);
  });

  it("takeExpired walks a group of leases with one iterator per call, not one per lease (each new one skips every entry deleted before it)", () => {
    // A Set's iterator steps over the entries deleted since the Set last
    // shrank: one iterator per reaped lease made reaping a group of N leases
    // take time quadratic in N (a ManualClock puts many batches in one group).
    class CountingSet<T> extends Set<T> {
      iterators = 0;
      override values(): SetIterator<T> {
        this.iterators++;
        return super.values();
      }
      override [Symbol.iterator](): SetIterator<T> {
        this.iterators++;
        return super[Symbol.iterator]();
      }
    }
    const table = new LeaseTable();
    const leases = Array.from({ length: 1_000 }, (_, job) => table.add(job, `j${job}`, "q"));
    for (const lease of leases.slice(0, 900)) table.activate(lease, 100);
    for (const lease of leases.slice(900)) table.activate(lease, 200);
    const groups = [leases[0]!, leases[900]!].map((lease) => {
      const group = lease.expiryGroup as { leases: Set<(typeof leases)[number]> };
      const counting = new CountingSet(group.leases);
      group.leases = counting;
      return counting;
    });
    for (const lease of leases.slice(0, 900).filter((_, i) => i % 100 === 1))
      lease.renewedByWorkerMs = 1_000;
    const first = table.takeExpired(200, 600);
    assert.equal(first.length, 594, "6 renewed and 594 taken: the limit");
    assert.deepEqual(
      groups.map((set) => set.iterators),
      [1, 0],
    );
    const rest = table.takeExpired(200, Number.POSITIVE_INFINITY);
    assert.deepEqual(
      [...first, ...rest],
      leases.filter((_, i) => i >= 900 || i % 100 !== 1),
    );
    assert.deepEqual(
      groups.map((set) => set.iterators),
      [2, 1],
    );
    assert.equal(table.expiryEntries, 1, "the renewed leases' group");
  });

  it("takeExpired counts the leases it renews for a worker toward its limit; hasExpired tells what is left", () => {
    const table = new LeaseTable();
    const leases = [0, 1, 2, 3].map((job) => table.add(job, `j${job}`, "q"));
    for (const [i, lease] of leases.entries()) table.activate(lease, 100 + i);
    for (const lease of leases.slice(0, 3)) lease.renewedByWorkerMs = 1_000;
    assert.deepEqual(table.takeExpired(500, 2), [], "two renewed: the limit");
    assert.equal(table.hasExpired(500), true);
    assert.deepEqual(table.takeExpired(500, 2), [leases[3]], "one renewed, one taken");
    assert.equal(table.hasExpired(500), false);
    assert.deepEqual(
      leases.slice(0, 3).map((lease) => lease.expiresAt),
      [1_500, 1_500, 1_500],
    );
  });

  it("expiring the lease of the last attempt dead-letters the job", async () => {
    const { queue, clock } = await openTestQueue({ defaultQueueConfig: { maxAttempts: 1 } });
    const id = await queue.enqueue("q", "x");
    await mustClaim(queue, "q", 1_000);
    clock.advance(2_000);
    await queue.reapNow();
    const job = await queue.getJob(id);
    assert.equal(job?.status, "dead");
    assert.equal(job?.lastError, "lease expired");
    assert.equal(job?.failedAt, clock.now());
    await queue.close();
  });

  it("unexpired claims are untouched by the reaper", async () => {
    const { queue, clock } = await openTestQueue();
    await queue.enqueue("q", "x");
    const claim = await mustClaim(queue, "q", 10_000);
    clock.advance(9_999);
    await queue.reapNow();
    assert.equal((await queue.stats("q")).claimed, 1);
    await queue.ack(claim);
    await queue.close();
  });

  it("an acked job is not resurrected by a later reap", async () => {
    const { queue, clock } = await openTestQueue();
    await queue.enqueue("q", "x");
    await queue.ack(await mustClaim(queue, "q", 1_000));
    clock.advance(5_000);
    await queue.reapNow();
    assert.deepEqual(await queue.stats("q"), {
      queue: "q",
      pending: 0,
      claimed: 0,
      done: 1,
      dead: 0,
      scheduled: 0,
      paused: false,
    });
    await queue.close();
  });

  it("renewLease extends the expiry in place; the reaper skips it; getJob shows it", async () => {
    const { queue, clock } = await openTestQueue();
    const id = await queue.enqueue("q", "x");
    const claim = await mustClaim(queue, "q", 1_000);
    clock.advance(900);
    const expiry = await queue.renewLease(claim, 5_000);
    assert.equal(expiry, clock.now() + 5_000);
    assert.equal(claim.leaseExpiresAt, expiry);
    clock.advance(1_000);
    await queue.reapNow();
    const job = await queue.getJob(id);
    assert.equal(job?.status, "claimed");
    assert.equal(job?.leaseExpiresAt, expiry);
    await queue.ack(claim);
    await queue.close();
  });

  it("an expired but not yet reaped lease can still be settled", async () => {
    const { queue, clock } = await openTestQueue({ reaperIntervalMs: 60_000 });
    await queue.enqueue("q", "x");
    const claim = await mustClaim(queue, "q", 1_000);
    clock.advance(5_000);
    await queue.ack(claim);
    assert.equal((await queue.stats("q")).done, 1);
    await queue.close();
  });

  it("a signal first asked for after the reap carries the same lease-expired reason", async () => {
    const { queue, clock } = await openTestQueue(NO_BACKOFF);
    await queue.enqueue("q", "x");
    const claim = await mustClaim(queue, "q", 1_000);
    clock.advance(1_000);
    await queue.reapNow();
    const reason = claimLostReason(queue, claim);
    assert.ok(reason instanceof ClaimLostError);
    assert.equal(reason.message, `lease of job ${claim.id} expired`);
    // A handler reading ctx.signal only now sees why its claim was lost, as one reading it earlier did.
    const signal = queue.claimSignal(claim);
    assert.ok(signal.aborted);
    assert.equal(signal.reason, reason);
    assert.equal(queue.claimSignal(claim).reason, reason);
    const heard: Error[] = [];
    onClaimLost(queue, claim, (error) => heard.push(error));
    assert.deepEqual(heard, [reason]);
    await queue.close();
    assert.equal(queue.claimSignal(claim).reason, reason);
  });

  it("settling a reaped claim rejects ClaimLost and changes nothing", async () => {
    const { queue, clock } = await openTestQueue(NO_BACKOFF);
    await queue.enqueue("q", "x");
    const stale = await mustClaim(queue, "q", 1_000);
    clock.advance(1_000);
    await queue.reapNow();
    const fresh = await mustClaim(queue, "q");
    const before = await queue.stats("q");
    for (const attempt of [
      queue.ack(stale),
      queue.nack(stale, "late"),
      queue.deadLetter(stale, "late"),
      queue.renewLease(stale, 1_000),
    ]) {
      const error = await rejection(attempt);
      assert.ok(error instanceof ClaimLostError);
      assert.equal(error.code, "CLAIM_LOST");
    }
    assert.deepEqual(await queue.stats("q"), before);
    assert.equal((await queue.getJob(fresh.id))?.attempts, 2);
    await queue.ack(fresh);
    await queue.close();
  });

  it("a lease running past the end of the Date range reports that end as leaseExpiresAt, and still holds", async () => {
    const { queue, clock } = await openTestQueue();
    const id = await queue.enqueue("q", "x");
    const claim = await mustClaim(queue, "q", Number.MAX_SAFE_INTEGER);
    assert.equal(claim.leaseExpiresAt, MAX_TIMESTAMP_MS);
    assert.equal((await queue.getJob(id))?.leaseExpiresAt, MAX_TIMESTAMP_MS);
    assert.equal(await queue.renewLease(claim, Number.MAX_SAFE_INTEGER), MAX_TIMESTAMP_MS);
    assert.equal(claim.leaseExpiresAt, MAX_TIMESTAMP_MS);
    assert.ok(!Number.isNaN(new Date(claim.leaseExpiresAt).getTime()));
    // A lease short of the end reports its own end.
    assert.equal(await queue.renewLease(claim, 1_000), clock.now() + 1_000);
    await queue.renewLease(claim, Number.MAX_SAFE_INTEGER);
    clock.advance(365 * 24 * 3_600_000);
    await queue.reapNow();
    assert.equal((await queue.getJob(id))?.status, "claimed");
    await queue.ack(claim);
    await queue.close();
  });

  it("settling something that is not a claim at all is InvalidArgument; a job record without a live claim stays ClaimLost", async () => {
    const { queue } = await openTestQueue();
    const id = await queue.enqueue("q", "x");
    const claim = await mustClaim(queue, "q");
    const record = await queue.getJob(id);
    const before = await queue.stats("q");
    const settlers: Array<[string, (c: Claim) => Promise<unknown>]> = [
      ["ack", (c) => queue.ack(c)],
      ["nack", (c) => queue.nack(c, "e")],
      ["deadLetter", (c) => queue.deadLetter(c, "r")],
      ["release", (c) => queue.release(c)],
      ["renewLease", (c) => queue.renewLease(c, 1_000)],
      ["tx.ack", (c) => queue.transaction((tx) => tx.ack(c))],
      ["tx.nack", (c) => queue.transaction((tx) => tx.nack(c, "e"))],
      ["tx.deadLetter", (c) => queue.transaction((tx) => tx.deadLetter(c, "r"))],
    ];
    for (const [name, settle] of settlers) {
      const arg = name.startsWith("tx.") ? `${name} claim` : "claim";
      for (const [value, got] of [
        [null, "null"],
        [undefined, "undefined"],
        ["abc", '"abc"'],
        [{ id }, "an object"],
        [42, "42"],
      ] as const) {
        const error = await rejection(settle(value as unknown as Claim));
        assert.ok(error instanceof InvalidArgumentError, `${name}(${got}): ${error.message}`);
        assert.equal(
          error.message,
          `Expected \`${arg}\` to be a claim from claim()/claimBatch(), got ${got}`,
        );
      }
      // A job record is a claim whose claim is not live here (getJob's, or another queue's).
      const lost = await rejection(settle(record as Claim));
      assert.ok(lost instanceof ClaimLostError, `${name}(getJob record): ${lost.message}`);
      assert.match(lost.message, new RegExp(`the claim on job ${id} is not live`));
    }
    assert.deepEqual(await queue.stats("q"), before, "nothing changed");
    await queue.ack(claim);
    await queue.close();
  });

  it("a settled claim, a getJob record and a copied claim cannot be settled", async () => {
    const { queue } = await openTestQueue();
    const id = await queue.enqueue("q", "x");
    const claim = await mustClaim(queue, "q");
    const record = await queue.getJob(id);
    assert.equal((await rejection(queue.ack({ ...record! } as typeof claim))).code, "CLAIM_LOST");
    await queue.ack(claim);
    assert.equal((await rejection(queue.ack(claim))).code, "CLAIM_LOST");
    assert.equal((await rejection(queue.nack(claim, "again"))).code, "CLAIM_LOST");
    assert.equal((await queue.stats("q")).done, 1);
    await queue.close();
  });
});
