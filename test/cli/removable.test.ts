/**
 * The look `remove --all --older-than` takes before opening a writer: done
 * jobs are listed oldest completion first, so one job decides; the other
 * statuses are scanned up to a bound, past which the writer decides.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { holdsRemovable } from "../../src/cli/remove.js";
import { silentLogger } from "../../src/logger.js";
import { Queue } from "../../src/queue/queue.js";
import { QueueReader } from "../../src/queue/reader.js";
import { MemoryStore } from "../../src/store/memory.js";

const DAY = 86_400_000;

/** A reader that counts the jobs its listings return. */
function counting(reader: QueueReader): { listJobs: QueueReader["listJobs"]; listed: number } {
  const counter = {
    listed: 0,
    listJobs: (...args: Parameters<QueueReader["listJobs"]>) => {
      const page = reader.listJobs(...args);
      counter.listed += page.jobs.length;
      return page;
    },
  };
  return counter;
}

describe("remove --all --older-than: the look before writing", { timeout: 60_000 }, () => {
  it("looks at one done job, and at most the bound of the other statuses", async () => {
    const store = new MemoryStore();
    const options = { logger: silentLogger, defaultQueueConfig: { keepDoneJobsMs: 10 * DAY } };
    const clock = { now: () => Date.now() - 2 * DAY };
    const earlier = await Queue.open(store, "taquba", { ...options, clock });
    await earlier.enqueue("q", "old done");
    const claim = await earlier.claim("q");
    assert.ok(claim);
    await earlier.ack(claim);
    await earlier.close();
    const app = await Queue.open(store, "taquba", options);
    for (let i = 0; i < 1_200; i++) {
      await app.enqueue("q", `done${i}`);
      const c = await app.claim("q");
      assert.ok(c);
      await app.ack(c);
    }
    for (let i = 0; i < 1_200; i++) await app.enqueue("q", `pending${i}`);
    await app.close();
    const now = Date.now();
    const reader = await QueueReader.open(store, "taquba");

    // Done: the oldest completion is listed first, and it alone decides.
    let look = counting(reader);
    assert.equal(holdsRemovable(look, "q", "done", DAY, now), true);
    assert.equal(look.listed, 1);
    look = counting(reader);
    assert.equal(holdsRemovable(look, "q", "done", 3 * DAY, now), false);
    assert.equal(look.listed, 1);

    // Pending: none old enough, all scanned under the bound; past it, the writer decides.
    look = counting(reader);
    assert.equal(holdsRemovable(look, "q", "pending", DAY, now), false);
    assert.equal(look.listed, 1_200);
    look = counting(reader);
    assert.equal(holdsRemovable(look, "q", "pending", DAY, now, 1_100), true);
    assert.equal(look.listed, 1_100);
  });
});
