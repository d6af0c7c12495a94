/**
 * A worker while `close()` makes the schedule fires already due, before the
 * queue counts as closed: it starts no handler on the claims it
 * holds ready (the close gives them back, their attempts not counted) and
 * claims nothing more.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { silentLogger } from "../../src/logger.js";
import type { Queue } from "../../src/queue/queue.js";
import { FIRES_PER_TURN } from "../../src/queue/schedules/runner.js";
import { runWorker } from "../../src/worker/run-worker.js";
import type { WorkerOptions } from "../../src/worker/types.js";
import { openTestQueue, turns } from "../queue/helpers.js";
import { until } from "../until.js";
import { deferred } from "./helpers.js";

const MINUTE = 60_000;
/** More fires than one turn makes: the close's firing spans several turns. */
const DUE_FIRES = 4 * FIRES_PER_TURN;
/** Longer than the clock steps here: no lease runs out. */
const LEASE_MS = 2 * DUE_FIRES * MINUTE;

/** A worker on queue "q" that records each started job's payload; handlers wait for `gate` when given. */
function recordingWorker(
  queue: Queue,
  options: WorkerOptions,
  gate?: Promise<unknown>,
): { started: string[]; worker: Promise<void> } {
  const started: string[] = [];
  const worker = runWorker(
    queue,
    "q",
    async (job) => {
      started.push(Buffer.from(job.payload).toString());
      await gate;
    },
    { logger: silentLogger, ...options },
  );
  return { started, worker };
}

describe("runWorker while the queue's close makes the schedule fires due", () => {
  it("starts no handler on a claim held ready; the job comes back at the next open, its attempt not counted", async () => {
    const options = { defaultQueueConfig: { maxAttempts: 1 } };
    const { queue, store, clock } = await openTestQueue(options);
    await queue.schedule("ping", { everyMs: MINUTE, queue: "pings", payload: "" });
    const ids = await queue.enqueueBatch("q", ["1", "2"]);
    const release = deferred();
    const { started, worker } = recordingWorker(
      queue,
      { concurrency: 1, prefetch: 1, leaseMs: LEASE_MS },
      release.promise,
    );
    await until(async () => started.length === 1 && (await queue.stats("q")).claimed === 2);
    // Fires owed over several turns: the close makes them before the queue counts as closed.
    clock.advance(DUE_FIRES * MINUTE);
    const closing = queue.close();
    release.resolve(); // the first handler returns: its slot frees while the close fires
    await closing;
    await worker;
    assert.deepEqual(started, ["1"], "no handler started once the close began");
    const { queue: reopened } = await openTestQueue(options, store, clock);
    const held = await reopened.getJob(ids[1]!);
    assert.deepEqual(
      [held?.status, held?.attempts],
      ["pending", 0],
      "the ready claim was given back",
    );
    assert.deepEqual(await reopened.attemptHistory(ids[1]!), []);
    const stats = await reopened.stats("q");
    assert.deepEqual(
      [stats.pending, stats.claimed, stats.dead],
      [1, 0, 0],
      "the first one's ack was written (its record since removed as done)",
    );
    assert.equal((await reopened.stats("pings")).pending, DUE_FIRES);
    await reopened.close();
  });

  it("a worker started while the close runs claims nothing and resolves once the queue closed", async () => {
    const { queue, store, clock } = await openTestQueue();
    await queue.schedule("ping", { everyMs: MINUTE, queue: "pings", payload: "" });
    await queue.enqueue("q", "x");
    clock.advance(DUE_FIRES * MINUTE);
    const closing = queue.close();
    const { started, worker } = recordingWorker(queue, {});
    await closing;
    await worker;
    assert.deepEqual(started, []);
    const { queue: reopened } = await openTestQueue({}, store, clock);
    const { jobs } = await reopened.listJobs("q", "pending");
    assert.deepEqual(
      jobs.map((job) => job.attempts),
      [0],
    );
    await reopened.close();
  });

  it("claims nothing once the close began, not even the jobs its fires enqueue", async () => {
    const { queue, store, clock } = await openTestQueue();
    await queue.schedule("ping", { everyMs: MINUTE, queue: "q", payload: "fired" });
    const { started, worker } = recordingWorker(queue, {
      concurrency: 1,
      pollIntervalMs: 0,
      leaseMs: LEASE_MS,
    });
    await turns(5);
    clock.advance(DUE_FIRES * MINUTE);
    const closing = queue.close();
    await closing;
    await worker;
    assert.deepEqual(started, []);
    const { queue: reopened } = await openTestQueue({}, store, clock);
    const stats = await reopened.stats("q");
    assert.deepEqual(
      [stats.pending, stats.claimed],
      [DUE_FIRES, 0],
      "every fire pending, none run",
    );
    const { jobs } = await reopened.listJobs("q", "pending", { limit: 1_000 });
    assert.ok(jobs.every((job) => job.attempts === 0));
    await reopened.close();
  });
});
