import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { silentLogger } from "../../src/logger.js";
import { Queue } from "../../src/queue/queue.js";
import { FileStore } from "../../src/store/file.js";
import { rejection } from "../queue/helpers.js";
import { runAndKill } from "./kill.js";
import { openOn, STORES, tempDir } from "./stores.js";

for (const kind of STORES) {
  describe(`removeJob on ${kind.name}`, { timeout: 60_000 }, () => {
    it("removes one pending, scheduled, done or dead job, durably; not a claimed or unknown one", async () => {
      const opened = await openOn(kind, {
        defaultQueueConfig: { maxAttempts: 1, keepDoneJobsMs: 3_600_000 },
      });
      const { queue, clock } = opened;
      const dead = await queue.enqueue("q", "dead");
      await queue.deadLetter((await queue.claim("q"))!, "broken");
      const done = await queue.enqueue("q", "done");
      await queue.ack((await queue.claim("q"))!);
      const running = await queue.enqueue("q", "running");
      const claim = (await queue.claim("q"))!;
      assert.equal(claim.id, running);
      const pending = await queue.enqueue("q", "pending", { dedupKey: "k", jobId: "mine" });
      assert.equal(pending, "mine");
      const scheduled = await queue.enqueue("q", "later", { runAt: clock.now() + 60_000 });
      const kept = await queue.enqueue("q", "kept");
      const waiting = queue.waitForCompletion(pending, { timeoutMs: 60_000 });

      assert.equal(await queue.removeJob(dead), true);
      assert.equal(await queue.removeJob("mine"), true, "by the caller's id");
      assert.equal(await queue.removeJob(scheduled), true);
      assert.equal(await queue.removeJob((await queue.getJob(done))!), true, "by its record");
      assert.deepEqual(await waiting, { status: "cancelled" });
      assert.equal(await queue.removeJob(running), false, "claimed: cancel it instead");
      assert.equal(await queue.removeJob(dead), false, "already gone");
      assert.equal(await queue.removeJob("01ARZ3NDEKTSV4RRFFQ69G5FAV"), false);
      assert.equal((await rejection(queue.removeJob(7 as never))).code, "INVALID_ARGUMENT");

      for (const id of [dead, done, pending, scheduled]) assert.equal(await queue.getJob(id), null);
      assert.deepEqual(await queue.stats("q"), {
        queue: "q",
        pending: 1,
        scheduled: 0,
        claimed: 1,
        done: 1, // completions so far, not done jobs kept
        dead: 0,
        paused: false,
      });
      // The dedup key and the caller id are free again.
      const again = await queue.enqueueMany("q", [
        { payload: "again", options: { dedupKey: "k", jobId: "mine" } },
      ]);
      assert.equal(again[0]?.created, true);
      await queue.ack(claim);
      await queue.close();

      const reopened = await opened.reopen();
      for (const id of [dead, done, scheduled]) assert.equal(await reopened.getJob(id), null, id);
      assert.equal((await reopened.getJob(kept))?.status, "pending");
      const mine = await reopened.getJob("mine");
      assert.equal(
        Buffer.from(mine!.payload).toString(),
        "again",
        "the new job, not the removed one",
      );
      await reopened.close();
    });
  });
}

describe("removeJob and SIGKILL", { timeout: 60_000 }, () => {
  it("a removal acknowledged before the kill is never undone by the replay", async () => {
    const dir = await tempDir();
    const [report] = (await runAndKill(dir, "remove-job")) as [{ removed: string[]; kept: string }];
    const queue = await Queue.open(new FileStore(dir), "q", { logger: silentLogger });
    for (const id of report.removed) assert.equal(await queue.getJob(id), null, id);
    assert.equal((await queue.getJob(report.kept))?.status, "pending");
    assert.equal((await queue.stats("work")).dead, 0);
    await queue.close();
  });
});
