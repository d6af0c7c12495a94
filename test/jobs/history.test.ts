import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { silentLogger } from "../../src/logger.js";
import { MAX_HISTORY } from "../../src/queue/apply.js";
import { Queue } from "../../src/queue/queue.js";
import { QueueReader } from "../../src/queue/reader.js";
import type { JobAttempt } from "../../src/queue/types.js";
import { FileStore } from "../../src/store/file.js";
import { runAndKill } from "./kill.js";
import { openOn, STORES, tempDir } from "./stores.js";

const T0 = 1_700_000_000_000;

/** The history without the times, for compact assertions. */
function outcomes(history: JobAttempt[]): [number, string, string | undefined][] {
  return history.map((e) => [e.attempt, e.outcome, e.error]);
}

for (const kind of STORES) {
  describe(`attempt history on ${kind.name}`, { timeout: 60_000 }, () => {
    it("records retries and the completion with claim and record times", async () => {
      const { queue, clock } = await openOn(kind, {
        defaultQueueConfig: { retryBackoffBaseMs: 0, keepDoneJobsMs: 60_000 },
      });
      const id = await queue.enqueue("work", "x");
      await queue.nack((await queue.claim("work"))!, "timeout");
      clock.advance(10);
      const second = await queue.claim("work");
      clock.advance(5);
      await queue.nack(second!, "again");
      await queue.ack((await queue.claim("work"))!);
      const history = await queue.attemptHistory(id);
      assert.deepEqual(history, [
        { attempt: 1, claimedAt: T0, recordedAt: T0, outcome: "retried", error: "timeout" },
        { attempt: 2, claimedAt: T0 + 10, recordedAt: T0 + 15, outcome: "retried", error: "again" },
        { attempt: 3, claimedAt: T0 + 15, recordedAt: T0 + 15, outcome: "completed" },
      ]);
      await queue.close();
    });

    it("is removed with the job: ack without retention, retention sweeps; a cancel's ends with it", async () => {
      const { queue, clock } = await openOn(kind, {
        defaultQueueConfig: { retryBackoffBaseMs: 60_000, deadRetentionMs: 1_000, maxAttempts: 2 },
      });
      const [acked, cancelled, swept] = await queue.enqueueBatch("work", ["a", "b", "c"]);
      for (let i = 0; i < 3; i++) await queue.nack((await queue.claim("work"))!, `e${i}`);
      assert.equal((await queue.attemptHistory(cancelled!)).length, 1);
      assert.equal(await queue.cancel(cancelled!), "removed");
      // The cancelled job's tombstone keeps its history (for resultRetentionMs, a day by default).
      assert.deepEqual(await queue.attemptHistory(cancelled!), [
        { attempt: 1, claimedAt: T0, recordedAt: T0, outcome: "retried", error: "e1" },
        { attempt: 1, recordedAt: T0, outcome: "cancelled" },
      ]);
      clock.advance(60_000);
      await queue.promoteScheduledNow();
      await queue.ack((await queue.claim("work"))!); // acked: no result, not kept
      assert.deepEqual(await queue.attemptHistory(acked!), []);
      await queue.nack((await queue.claim("work"))!, "final");
      assert.deepEqual(outcomes(await queue.attemptHistory(swept!)), [
        [1, "retried", "e2"],
        [2, "dead_lettered", "final"],
      ]);
      clock.advance(1_001);
      await queue.reapNow();
      assert.equal(await queue.getJob(swept!), null);
      assert.deepEqual(await queue.attemptHistory(swept!), []);
      assert.deepEqual(await queue.attemptHistory("01JDZZZZZZZZZZZZZZZZZZZZZZ"), []);
      await queue.close();
    });

    it("records lease expiries, dead-lettering and requeue of a dead job", async () => {
      const { queue, clock } = await openOn(kind, { defaultQueueConfig: { maxAttempts: 2 } });
      const id = await queue.enqueue("work", "x");
      await queue.claim("work", { leaseMs: 100 });
      clock.advance(100);
      await queue.reapNow();
      await queue.claim("work", { leaseMs: 100 });
      clock.advance(100);
      await queue.reapNow();
      assert.equal((await queue.getJob(id))?.status, "dead");
      clock.advance(1);
      await queue.requeueDeadJob(id);
      const claim = await queue.claim("work");
      await queue.deadLetter(claim!, "permanent");
      const history = await queue.attemptHistory(id);
      assert.deepEqual(outcomes(history), [
        [1, "lease_expired", "lease expired"],
        [2, "lease_expired", "lease expired"], // the last attempt: dead, by its real cause
        [0, "requeued", undefined],
        [1, "dead_lettered", "permanent"],
      ]);
      assert.equal(history[2]!.claimedAt, undefined);
      assert.equal(history[2]!.recordedAt, T0 + 201);
      await queue.close();
    });

    it("records a claim interrupted by its process going away, and survives close, reopen and replay", async () => {
      const { queue, reopen, store } = await openOn(kind);
      const id = await queue.enqueue("work", "x");
      await queue.claim("work");
      // A second writer takes over without the first closing: the claim was interrupted.
      const second = await reopen();
      assert.deepEqual(outcomes(await second.attemptHistory(id)), [[1, "interrupted", undefined]]);
      assert.equal((await second.getJob(id))?.status, "pending");
      await second.nack((await second.claim("work"))!, "boom");
      // Replayed from the WAL (no close) and from the checkpoint (after a close).
      const third = await reopen();
      const expected = [
        [1, "interrupted", undefined],
        [2, "retried", "boom"],
      ];
      assert.deepEqual(outcomes(await third.attemptHistory(id)), expected);
      await third.close();
      const fourth = await reopen();
      assert.deepEqual(outcomes(await fourth.attemptHistory(id)), expected);
      assert.deepEqual(outcomes((await QueueReader.open(store, "q")).attemptHistory(id)), expected);
      await fourth.close();
      await queue.close().catch(() => {});
      await second.close().catch(() => {});
    });

    it(`keeps the newest ${MAX_HISTORY} entries`, async () => {
      const { queue } = await openOn(kind, {
        defaultQueueConfig: { retryBackoffBaseMs: 0, maxAttempts: 1_000 },
      });
      const id = await queue.enqueue("work", "x");
      for (let i = 1; i <= MAX_HISTORY + 5; i++)
        await queue.nack((await queue.claim("work"))!, `e${i}`);
      const history = await queue.attemptHistory(id);
      assert.equal(history.length, MAX_HISTORY);
      assert.equal(history[0]!.attempt, 6);
      assert.equal(history.at(-1)!.error, `e${MAX_HISTORY + 5}`);
      await queue.close();
    });
  });
}

describe("attempt history and SIGKILL", { timeout: 120_000 }, () => {
  it("a claim held by a killed process shows as interrupted after the reopen", async () => {
    const dir = await tempDir();
    const [said] = (await runAndKill(dir, "claim-and-die")) as { id: string; attempts: number }[];
    assert.equal(said!.attempts, 1);
    const queue = await Queue.open(new FileStore(dir, { fsync: false }), "q", {
      logger: silentLogger,
    });
    assert.deepEqual(outcomes(await queue.attemptHistory(said!.id)), [
      [1, "interrupted", undefined],
    ]);
    await queue.close();
  });
});
