import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { readLog } from "../../src/log/index.js";
import { silentLogger } from "../../src/logger.js";
import type { Queue } from "../../src/queue/queue.js";
import { BULK_RECORD_JOBS } from "../../src/queue/records/bulk.js";
import { decodeRecord } from "../../src/queue/records/codec.js";
import { Tag } from "../../src/queue/records/tags.js";
import type { Claim } from "../../src/queue/types.js";
import { MemoryStore } from "../../src/store/memory.js";
import { auditState, liveState } from "../reliability/lib/audit.js";
import { openTestQueue } from "./helpers.js";

const COHORT = 2 * BULK_RECORD_JOBS + 17;

/** Counts turns of the event loop (setImmediate callbacks) until stopped. */
function turnCounter(): { stop(): number } {
  let turns = 0;
  let running = true;
  const tick = () => {
    turns++;
    if (running) setImmediate(tick);
  };
  setImmediate(tick);
  return {
    stop() {
      running = false;
      return turns;
    },
  };
}

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
    const { queue, clock, store } = await openTestQueue();
    const runAt = clock.now() + 60_000;
    await Promise.all(
      Array.from({ length: COHORT }, (_, i) => queue.enqueue("s", `j${i}`, { runAt })),
    );
    const turns = turnCounter();
    clock.advance(60_000);
    await queue.promoteScheduledNow();
    assert.ok(turns.stop() >= 2, "the event loop turned while promoting");
    assert.equal((await queue.stats("s")).pending, COHORT);
    const promotions = await recordsOf(store as MemoryStore, [Tag.PromoteSome]);
    assert.ok(promotions.length >= 3, `${promotions.length} promotion records`);
    for (const record of promotions)
      assert.ok(record.tag === Tag.PromoteSome && record.limit <= BULK_RECORD_JOBS);
    assert.deepEqual(auditState(liveState(queue)), []);
    await queue.close();
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
    const turns = turnCounter();
    clock.advance(5_000);
    await queue.reapNow();
    assert.ok(turns.stop() >= 2, "the event loop turned while reaping");
    const stats = await queue.stats("k");
    assert.equal(stats.claimed, 0);
    assert.equal(stats.pending, COHORT, "every expired lease was requeued");
    assert.equal(await queue.getJob(claims[0]!.id), null, "every kept done job was swept");
    const sweeps = await recordsOf(store as MemoryStore, [Tag.SweepDoneSome]);
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
    const turns = turnCounter();
    const { queue: next } = await openTestQueue({}, store);
    assert.ok(turns.stop() >= 2, "the event loop turned during the open");
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
});
