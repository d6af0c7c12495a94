import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { readLog } from "../../src/log/index.js";
import { silentLogger } from "../../src/logger.js";
import type { Queue } from "../../src/queue/queue.js";
import { BULK_RECORD_JOBS, BULK_RECORD_MIN_JOBS } from "../../src/queue/records/bulk.js";
import { decodeRecord } from "../../src/queue/records/codec.js";
import { Tag } from "../../src/queue/records/tags.js";
import type { Claim } from "../../src/queue/types.js";
import { MemoryStore } from "../../src/store/memory.js";
import { auditState, liveState } from "../reliability/lib/audit.js";
import { turnCounter, turnsDuring } from "../turns.js";
import { openTestQueue, setSliceMs } from "./helpers.js";

const COHORT = 2 * BULK_RECORD_JOBS + 17;
/**
 * The limits of the records of a pass over COHORT jobs with time to spare: a
 * pass probes with four times the least record, then four times more a record.
 */
const PROBED = [
  4 * BULK_RECORD_MIN_JOBS,
  16 * BULK_RECORD_MIN_JOBS,
  64 * BULK_RECORD_MIN_JOBS,
  BULK_RECORD_JOBS,
  BULK_RECORD_JOBS,
];

/** Claims `count` jobs of `name`, a thousand per durable write (one claim at a time waits a commit each). */
async function claimMany(queue: Queue, name: string, count: number): Promise<Claim[]> {
  const claims: Claim[] = [];
  while (claims.length < count) {
    const batch = await queue.claimBatch(name, Math.min(1_000, count - claims.length));
    assert.ok(batch.length > 0, `only ${claims.length} of ${count} jobs to claim`);
    claims.push(...batch);
  }
  return claims;
}

/** The records of `path` in `store`, decoded, with the tags in `tags` only. */
async function recordsOf(store: MemoryStore, tags: number[]) {
  const { records } = await readLog(store, "q", { logger: silentLogger });
  return records.map(decodeRecord).filter((r) => tags.includes(r.tag));
}

describe("bulk transitions run in bounded slices", { timeout: 120_000 }, () => {
  it("a cohort of scheduled jobs due at once is promoted in bounded records, the loop turning between", async () => {
    /**
     * Promotes a cohort due at once with slices of `sliceMs` (the test-only
     * hook: how long a slice runs is the machine's business, so the test fixes
     * it) and samples, at every turn of the event loop while it runs, how many
     * jobs are still scheduled: a sample strictly between none and all of them
     * is a turn the host got while promotion was partway.
     */
    const promote = async (sliceMs: number) => {
      // Every record stays in the WAL for the count below: no checkpoint during the run.
      const { queue, clock, store } = await openTestQueue({
        log: { checkpointWalBatches: 100_000 },
      });
      setSliceMs(queue, sliceMs);
      const runAt = clock.now() + 60_000;
      await Promise.all(
        Array.from({ length: COHORT }, (_, i) => queue.enqueue("s", `j${i}`, { runAt })),
      );
      const scheduled = () => liveState(queue).queues.get("s")!.scheduled.size;
      const partway = new Set<number>();
      const counter = turnCounter(() => {
        const left = scheduled();
        if (left > 0 && left < COHORT) partway.add(left);
      });
      clock.advance(60_000);
      try {
        await queue.promoteScheduledNow();
      } finally {
        // A failed promotion must fail the test, not leave the sampler looping until the timeout.
        counter.stop();
      }
      assert.equal((await queue.stats("s")).pending, COHORT);
      const promotions = await recordsOf(store as MemoryStore, [Tag.PromoteSome]);
      assert.deepEqual(auditState(liveState(queue)), []);
      await queue.close();
      return { promotions, partway: partway.size };
    };
    // All the time in the world for one slice: the pass probes with small records
    // (four times the least, then four times more each), then BULK_RECORD_JOBS at most.
    const long = await promote(60_000);
    assert.deepEqual(
      long.promotions.map((record) => record.tag === Tag.PromoteSome && record.limit),
      PROBED,
    );
    // A slice spent after every record: the loop turns between every two of them.
    const short = await promote(0);
    assert.equal(short.promotions.length, Math.ceil(COHORT / BULK_RECORD_MIN_JOBS));
    for (const record of short.promotions)
      assert.ok(record.tag === Tag.PromoteSome && record.limit <= BULK_RECORD_JOBS);
    assert.equal(
      short.partway,
      short.promotions.length - 1,
      "the event loop turned between every two promotion records",
    );
  });

  it("expired leases and retention sweeps of many jobs come in bounded slices", async () => {
    const { queue, clock, store } = await openTestQueue({
      queueConfigs: { k: { keepDoneJobsMs: 1_000, leaseMs: 5_000 } },
    });
    await queue.enqueueBatch(
      "k",
      Array.from({ length: 2 * COHORT }, (_, i) => `j${i}`),
    );
    const claims = await claimMany(queue, "k", 2 * COHORT);
    await Promise.all(claims.slice(0, COHORT).map((c) => queue.ack(c)));
    const { turns } = await turnsDuring(async () => {
      clock.advance(5_000);
      await queue.reapNow();
    });
    assert.ok(turns >= 2, "the event loop turned while reaping");
    const stats = await queue.stats("k");
    assert.equal(stats.claimed, 0);
    assert.equal(stats.pending, COHORT, "every expired lease was requeued");
    assert.equal(await queue.getJob(claims[0]!.id), null, "every kept done job was swept");
    // Done jobs without a result, kept for less than resultRetentionMs: swept on their own.
    const sweeps = await recordsOf(store as MemoryStore, [Tag.SweepDoneNoResultSome]);
    assert.ok(sweeps.length >= 3, `${sweeps.length} sweep records`);
    const retries = await recordsOf(store as MemoryStore, [Tag.Retry]);
    assert.equal(retries.length, COHORT);
    assert.deepEqual(auditState(liveState(queue)), []);
    await queue.close();
  });

  it("the claims a crashed writer left are requeued at open in slices, before open resolves", async () => {
    const store = new MemoryStore();
    const { queue } = await openTestQueue({}, store);
    await queue.enqueueBatch(
      "c",
      Array.from({ length: COHORT }, (_, i) => `j${i}`),
    );
    await claimMany(queue, "c", COHORT);
    await queue.flush();
    // No close: the next writer finds every job claimed.
    const {
      result: { queue: next },
      turns,
    } = await turnsDuring(() => openTestQueue({}, store));
    assert.ok(turns >= 2, "the event loop turned during the open");
    assert.deepEqual(await next.stats("c"), {
      queue: "c",
      pending: COHORT,
      claimed: 0,
      done: 0,
      dead: 0,
      scheduled: 0,
      paused: false,
    });
    await next.flush();
    const requeued = await recordsOf(store, [Tag.Retry]);
    assert.equal(requeued.length, COHORT);
    assert.deepEqual(auditState(liveState(next)), []);
    await next.close();
  });

  it("a slice with no time to spare promotes in the smallest records; the outcome is the one-shot one", async () => {
    const count = 20 * BULK_RECORD_MIN_JOBS + 3;
    /** Pending jobs (id, priority) after promoting a cohort with slices of `sliceMs`. */
    const promoted = async (sliceMs: number) => {
      // Every record stays in the WAL for the count below: no checkpoint during the run.
      const { queue, clock, store } = await openTestQueue({
        log: { checkpointWalBatches: 100_000 },
      });
      setSliceMs(queue, sliceMs);
      const runAt = clock.now() + 60_000;
      for (let i = 0; i < count; i++)
        await queue.enqueue("s", `j${i}`, { runAt: runAt - (i % 5), priority: i % 3 });
      clock.advance(60_000);
      await queue.promoteScheduledNow();
      await queue.flush(); // the timer may have promoted them as the clock moved
      const { jobs } = await queue.listJobs("s", "pending", { limit: 1_000 });
      const records = await recordsOf(store as MemoryStore, [Tag.PromoteSome]);
      assert.deepEqual(auditState(liveState(queue)), []);
      await queue.close();
      return { order: jobs.map((j) => `${j.payload}/${j.priority}`), records };
    };
    const sliced = await promoted(0);
    const oneShot = await promoted(60_000);
    assert.equal(sliced.order.length, count);
    assert.deepEqual(sliced.order, oneShot.order, "the same jobs pending, in the same claim order");
    assert.deepEqual(
      oneShot.records.map((record) => record.tag === Tag.PromoteSome && record.limit),
      PROBED.slice(0, 3),
      "a long slice: the probe's records only",
    );
    assert.equal(sliced.records.length, Math.ceil(count / BULK_RECORD_MIN_JOBS));
    for (const record of sliced.records)
      assert.ok(record.tag === Tag.PromoteSome && record.limit === BULK_RECORD_MIN_JOBS);
  });

  it("enqueues and claims between the slices of a promotion stay correct", async () => {
    const { queue, clock } = await openTestQueue();
    setSliceMs(queue, 0);
    const count = 10 * BULK_RECORD_MIN_JOBS;
    const runAt = clock.now() + 60_000;
    await Promise.all(
      Array.from({ length: count }, (_, i) => queue.enqueue("s", `due${i}`, { runAt })),
    );
    clock.advance(60_000);
    const promoting = queue.promoteScheduledNow();
    const claimed: string[] = [];
    let enqueued = 0;
    for (let turn = 0; turn < 5; turn++) {
      await new Promise((resolve) => setImmediate(resolve));
      await queue.enqueue("s", `new${enqueued++}`);
      await queue.enqueue("s", `later${turn}`, { runAt: clock.now() + 60_000 });
      for (const claim of await queue.claimBatch("s", 3)) claimed.push(claim.id);
    }
    await promoting;
    const stats = await queue.stats("s");
    assert.equal(new Set(claimed).size, claimed.length, "no job claimed twice");
    assert.equal(stats.claimed, claimed.length);
    assert.equal(stats.pending + stats.claimed, count + enqueued, "every due and new job, once");
    assert.equal(stats.scheduled, 5, "jobs not yet due stay scheduled");
    assert.deepEqual(auditState(liveState(queue)), []);
    await queue.close();
  });

  it("a slice with no time to spare sweeps and expires in the smallest records, acks in between kept", async () => {
    const { queue, clock, store } = await openTestQueue({
      queueConfigs: { k: { keepDoneJobsMs: 1_000, leaseMs: 5_000 } },
    });
    setSliceMs(queue, 0);
    const count = 6 * BULK_RECORD_MIN_JOBS;
    await queue.enqueueBatch(
      "k",
      Array.from({ length: 2 * count + 10 }, (_, i) => `j${i}`),
    );
    const claims = await claimMany(queue, "k", 2 * count);
    await Promise.all(claims.slice(0, count).map((c) => queue.ack(c)));
    clock.advance(5_000);
    const reaping = queue.reapNow();
    // Between slices: a fresh claim and its ack, which the sweep's cutoff leaves alone.
    await new Promise((resolve) => setImmediate(resolve));
    const fresh = await queue.claimBatch("k", 10);
    await Promise.all(fresh.map((c) => queue.ack(c)));
    await reaping;
    const stats = await queue.stats("k");
    assert.equal(stats.claimed, 0);
    assert.equal(stats.pending, count, "every expired lease was requeued");
    for (const claim of claims.slice(0, count))
      assert.equal(await queue.getJob(claim.id), null, "every old kept done job was swept");
    for (const claim of fresh)
      assert.equal((await queue.getJob(claim.id))?.status, "done", "a fresh ack is kept");
    // Done jobs without a result, kept for less than resultRetentionMs: swept on their own.
    const sweeps = await recordsOf(store as MemoryStore, [Tag.SweepDoneNoResultSome]);
    assert.equal(sweeps.length, count / BULK_RECORD_MIN_JOBS);
    const retries = await recordsOf(store as MemoryStore, [Tag.Retry]);
    assert.equal(retries.length, count);
    assert.deepEqual(auditState(liveState(queue)), []);
    await queue.close();
  });
});
