/**
 * The worker's backstop against claiming in a loop: a claim found not
 * startable though the queue holds it live waits before the next claim (on
 * the queue's clock), with one warning; one the queue ended (cancelled, lost)
 * or paused is released and the next claim goes out at once.
 */
import assert from "node:assert/strict";
import { describe, it, type TestContext } from "node:test";
import type { Queue } from "../../src/queue/queue.js";
import type { Claim } from "../../src/queue/types.js";
import { QUEUE_ON_STOPPED } from "../../src/queue/worker-hooks.js";
import { runWorker } from "../../src/worker/run-worker.js";
import { openTestQueue, turns } from "../queue/helpers.js";
import { recordingLogger } from "../recording-logger.js";
import { until } from "../until.js";

/** The hook a worker asks whether it may start a claim (see `queue/worker-hooks.ts`). */
const CLAIM_STARTABLE = Symbol.for("taquba.claimStartable");

/** Counts `queue`'s claimBatch calls, and keeps the claims they handed out. */
function countClaims(queue: Queue): { calls: () => number; handedOut: Claim[] } {
  let calls = 0;
  const handedOut: Claim[] = [];
  const claimBatch = queue.claimBatch;
  queue.claimBatch = async (name, max, options) => {
    calls++;
    const claims = await claimBatch.call(queue, name, max, options);
    handedOut.push(...claims);
    return claims;
  };
  return { calls: () => calls, handedOut };
}

/**
 * A worker on a queue whose claims are never startable, held off for the
 * second time (a wait of 200 ms, in slices of 100), the clock standing still.
 * `prepare` runs on the queue before the worker starts.
 */
async function holdOffTwice(t: TestContext, prepare: (queue: Queue) => void = () => {}) {
  const { queue, clock, store } = await openTestQueue();
  await queue.enqueue("q", "x");
  Object.defineProperty(queue, CLAIM_STARTABLE, { value: () => false });
  prepare(queue);
  const claims = countClaims(queue);
  const logger = recordingLogger();
  const shutdown = new AbortController();
  const pollIntervalMs = 100;
  let settled = false;
  const worker = runWorker(queue, "q", () => assert.fail("no handler runs"), {
    pollIntervalMs,
    logger,
    signal: shutdown.signal,
  }).then(
    () => {
      settled = true;
    },
    () => {
      settled = true;
    },
  );
  t.after(() => shutdown.abort());
  // The worker's own releases, counted once durable: a release landing after the close
  // would wake the worker by itself, so the tests wait for both.
  let releasesDone = 0;
  const release = queue.release;
  queue.release = async (claim) => {
    await release.call(queue, claim);
    releasesDone++;
  };
  await until(() => claims.calls() === 1 && releasesDone === 1, "claimed and released");
  clock.advance(pollIntervalMs);
  // The second refusal starts a wait of 200 ms.
  await until(() => claims.calls() === 2 && releasesDone === 2, "claimed again");
  await turns(20);
  assert.equal(settled, false, "held off, not ended");
  return { queue, clock, store, claims, logger, worker, pollIntervalMs, settled: () => settled };
}

describe("runWorker: claims found not startable", { timeout: 60_000 }, () => {
  it("one not startable though live: one warning, then claims only after waits on the queue's clock (doubling), not in a loop", async (t) => {
    const { queue, clock } = await openTestQueue();
    const id = await queue.enqueue("q", "x");
    // Answers "not startable" for live claims, as no build of the package should:
    // whatever the cause, the worker must not spin on it.
    let refuse = true;
    const ask = (queue as unknown as Record<symbol, (claim: Claim) => boolean>)[CLAIM_STARTABLE]!;
    Object.defineProperty(queue, CLAIM_STARTABLE, {
      value(this: Queue, claim: Claim) {
        return !refuse && ask.call(this, claim);
      },
    });
    const claims = countClaims(queue);
    const logger = recordingLogger();
    /** The job each handler ran, and how many claims had gone out by then. */
    const handled: [string, number][] = [];
    const shutdown = new AbortController();
    const pollIntervalMs = 100;
    const worker = runWorker(queue, "q", (job) => void handled.push([job.id, claims.calls()]), {
      pollIntervalMs,
      logger,
      signal: shutdown.signal,
    });
    // A failed assertion must not leave the worker holding the process open.
    t.after(() => shutdown.abort());
    const released = async () =>
      (await queue.getJob(id))?.status === "pending" && (await queue.stats("q")).claimed === 0;
    await until(async () => claims.calls() >= 1 && (await released()), "claimed and released");
    await turns(200);
    assert.equal(claims.calls(), 1, "no claim again while the clock stands still");
    // The waits: 100 ms, then 200, then 400 (each ends with one claim, refused again).
    clock.advance(pollIntervalMs - 1);
    await turns(50);
    assert.equal(claims.calls(), 1, "not before the wait is over");
    clock.advance(1);
    await until(async () => claims.calls() === 2 && (await released()), "claimed again");
    clock.advance(2 * pollIntervalMs - 1);
    await turns(50);
    assert.equal(claims.calls(), 2, "the second wait is twice as long");
    clock.advance(1);
    await until(async () => claims.calls() === 3 && (await released()), "claimed a third time");
    assert.equal(
      logger.messages("warn").filter((m) => m.includes("could not be started")).length,
      1,
      "one warning, not one per claim",
    );
    assert.match(logger.messages("warn")[0]!, /claims again only after 100 ms/);
    // Once claims can start again, the job runs at the end of the wait.
    refuse = false;
    clock.advance(4 * pollIntervalMs);
    await until(() => handled.length === 1, "the job ran");
    shutdown.abort();
    await worker;
    assert.deepEqual(handled, [[id, 4]], "claimed a fourth time, and run");
    await queue.close();
  });

  it("shutdown during a wait ends the worker at once, the clock standing still", async (t) => {
    const { queue } = await openTestQueue();
    await queue.enqueue("q", "x");
    Object.defineProperty(queue, CLAIM_STARTABLE, { value: () => false });
    const claims = countClaims(queue);
    const shutdown = new AbortController();
    const worker = runWorker(queue, "q", () => assert.fail("no handler runs"), {
      pollIntervalMs: 60_000,
      logger: recordingLogger(),
      signal: shutdown.signal,
    });
    t.after(() => shutdown.abort());
    await until(async () => claims.calls() >= 1 && (await queue.stats("q")).claimed === 0);
    shutdown.abort();
    await worker;
    await queue.close();
  });

  it("a queue closed during a wait ends the worker at once, the clock standing still", async (t) => {
    const held = await holdOffTwice(t);
    await held.queue.close();
    await turns(5);
    assert.equal(held.settled(), true, "ended with the close, not at a later slice of the wait");
    await held.worker;
    assert.equal(held.claims.calls(), 2, "no claim after the close");
  });

  it("a queue that cannot say it stopped, closed during a wait: the worker ends at the next slice of the wait", async (t) => {
    // As a queue of a build without the method would be.
    const held = await holdOffTwice(t, (queue) =>
      Object.defineProperty(queue, QUEUE_ON_STOPPED, { value: undefined }),
    );
    await held.queue.close();
    await turns(20);
    assert.equal(held.settled(), false, "nothing tells it while the clock stands still");
    // The wait is 200 ms; its first slice ends after 100.
    held.clock.advance(held.pollIntervalMs);
    await until(held.settled, "ended at the first slice, not at the end of the wait");
    await held.worker;
    assert.equal(held.claims.calls(), 2, "no claim after the close");
  });

  it("a queue fenced during a wait (another writer opened the store) ends the worker at once, with one line", async (t) => {
    const held = await holdOffTwice(t);
    const { queue: successor } = await openTestQueue({}, held.store, held.clock);
    t.after(() => successor.close());
    await assert.rejects(held.queue.enqueue("q", "y"), { code: "FENCED" });
    await turns(5);
    assert.equal(held.settled(), true, "ended with the fence, the clock standing still");
    await held.worker;
    const lines = held.logger.messages("warn", "error");
    assert.equal(lines.length, 2, lines.join("\n"));
    assert.match(lines[0]!, /could not be started/);
    assert.match(
      lines[1]!,
      /^worker: queue "q" stopped: another process opened the store \(fenced\)/,
    );
    assert.equal(held.claims.calls(), 2, "no claim after the fence");
  });

  it("claims the queue ended while they waited ready (cancelled, or lost) are released and the next claim goes out at once, no warning", async (t) => {
    // The clock never moves: a wait before the next claim would never end.
    const { queue } = await openTestQueue();
    await queue.enqueueBatch("q", ["1", "2", "3", "4"]);
    const claims = countClaims(queue);
    const logger = recordingLogger();
    const started: string[] = [];
    let open!: () => void;
    const shutdown = new AbortController();
    const worker = runWorker(
      queue,
      "q",
      async (job) => {
        started.push(Buffer.from(job.payload).toString());
        if (started.length === 1) await new Promise<void>((resolve) => (open = resolve));
      },
      { concurrency: 1, prefetch: 2, logger, signal: shutdown.signal },
    );
    t.after(() => shutdown.abort());
    await until(async () => started.length === 1 && (await queue.stats("q")).claimed === 3);
    const [, second, third] = claims.handedOut;
    assert.equal(await queue.cancel(second!.id), "requested", "held ready");
    // Its claim lost under the worker: settled by someone else, the job pending again.
    await queue.release(third!);
    open();
    await until(() => started.length === 3, "the jobs left ran");
    assert.deepEqual(started, ["1", "3", "4"]);
    assert.deepEqual(logger.messages("warn", "error"), []);
    shutdown.abort();
    await worker;
    await queue.close();
  });
});
