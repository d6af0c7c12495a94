import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InvalidArgumentError } from "../../src/errors.js";
import { silentLogger } from "../../src/logger.js";
import type { Queue } from "../../src/queue/queue.js";
import type { Claim } from "../../src/queue/types.js";
import { onQueueStopped } from "../../src/queue/worker-hooks.js";
import { MemoryStore } from "../../src/store/memory.js";
import { runWorker } from "../../src/worker/run-worker.js";
import type { JobContext, WorkerOptions } from "../../src/worker/types.js";
import { NO_BACKOFF, openTestQueue, turns, watch } from "../queue/helpers.js";
import { recordingLogger } from "../recording-logger.js";
import { until } from "../until.js";

const ABANDONED =
  "the worker shut down: the handler was still running 1000 ms after the shutdown began (shutdownTimeoutMs)";

/**
 * A handler that never returns on its own: each call is kept (job, ctx) and
 * ends only when the test settles it with `finish` or `fail`.
 */
function hangingHandler() {
  const calls: { job: Claim; ctx: JobContext; finish(): void; fail(error: Error): void }[] = [];
  const handler = (job: Claim, ctx: JobContext): Promise<unknown> =>
    new Promise((resolve, reject) => {
      calls.push({ job, ctx, finish: () => resolve("late"), fail: reject });
    });
  return { calls, handler };
}

function worker(
  queue: Queue,
  handler: (job: Claim, ctx: JobContext) => unknown,
  options: WorkerOptions,
) {
  return runWorker(queue, "q", handler, { logger: silentLogger, pollIntervalMs: 0, ...options });
}

/**
 * Starts a worker of queue "q" (a recording logger, a 1 s shutdownTimeoutMs,
 * then `options`) whose handler hangs, and resolves once it started.
 */
async function startHung(queue: Queue, options: WorkerOptions = {}) {
  const { calls, handler } = hangingHandler();
  const logger = recordingLogger();
  const done = worker(queue, handler, { shutdownTimeoutMs: 1_000, logger, ...options });
  const resolved = watch(done).settled;
  await until(() => calls.length === 1, "the handler to start");
  return { calls, logger, done, resolved };
}

describe("runWorker shutdownTimeoutMs", { timeout: 60_000 }, () => {
  it("abandons a hung handler at the deadline: its signal aborts, its attempt fails durably, and the worker resolves", async () => {
    const store = new MemoryStore();
    const { queue, clock } = await openTestQueue(NO_BACKOFF, store);
    const id = await queue.enqueue("q", "x");
    const shutdown = new AbortController();
    const { calls, logger, done, resolved } = await startHung(queue, { signal: shutdown.signal });
    clock.advance(5_000); // before the shutdown: no deadline runs
    await turns(10);
    assert.equal(calls[0]!.ctx.signal.aborted, false);
    shutdown.abort();
    clock.advance(999);
    await turns(10);
    assert.equal(resolved(), false, "not before the deadline");
    assert.equal(calls[0]!.ctx.signal.aborted, false);
    clock.advance(1);
    await done;
    const { signal } = calls[0]!.ctx;
    assert.equal(signal.aborted, true);
    assert.equal((signal.reason as DOMException).name, "AbortError");
    assert.equal((signal.reason as Error).message, ABANDONED);
    assert.deepEqual(
      logger.at("warn", "error").map((line) => line.fields),
      [{ queue: "q", abandoned: 1, failed: 1, timedOut: 0, settledOrLost: 0, ownTransaction: 0 }],
      "one warning for the abandoned handlers",
    );
    // Durable before the worker resolved: a crash now (no close, no flush) keeps it.
    const { queue: reopened } = await openTestQueue(NO_BACKOFF, store);
    const job = await reopened.getJob(id);
    assert.deepEqual(
      [job?.status, job?.attempts, job?.lastError],
      ["pending", 1, ABANDONED],
      "the attempt counted, the job retried",
    );
    assert.deepEqual(
      (await reopened.attemptHistory(id)).map((e) => [e.attempt, e.outcome, e.error]),
      [[1, "retried", ABANDONED]],
    );
    // The late return changes nothing (the old queue was fenced by the reopen anyway)
    // and says so on debug only.
    calls[0]!.finish();
    await turns(10);
    assert.equal(logger.at("warn", "error").length, 1);
    assert.equal(
      logger.at("debug").filter((l) => /ended after its handler/.test(l.message)).length,
      1,
    );
    await queue.close().catch(() => {});
    // A later worker runs the job again.
    const stop = new AbortController();
    const again = runWorker(
      reopened,
      "q",
      () => {
        stop.abort();
        return "second";
      },
      { signal: stop.signal, logger: silentLogger },
    );
    await again;
    assert.deepEqual(
      [(await reopened.getJob(id))?.status, (await reopened.getJob(id))?.attempts],
      ["done", 2],
    );
    await reopened.close();
  });

  it("dead-letters an abandoned job out of attempts; a late throw changes nothing", async () => {
    const { queue, clock } = await openTestQueue({ defaultQueueConfig: { maxAttempts: 1 } });
    const id = await queue.enqueue("q", "x");
    const shutdown = new AbortController();
    const { calls, logger, done } = await startHung(queue, { signal: shutdown.signal });
    shutdown.abort();
    clock.advance(1_000);
    await done;
    // Never read before: made when the run was abandoned, it says why.
    assert.equal((calls[0]!.ctx.signal.reason as Error).message, ABANDONED);
    const job = await queue.getJob(id);
    assert.deepEqual([job?.status, job?.attempts, job?.lastError], ["dead", 1, ABANDONED]);
    calls[0]!.fail(new Error("too late"));
    await turns(10);
    const after = await queue.getJob(id);
    assert.deepEqual([after?.status, after?.lastError], ["dead", ABANDONED]);
    assert.deepEqual(
      (await queue.attemptHistory(id)).map((e) => e.outcome),
      ["dead_lettered"],
    );
    assert.equal(logger.at("warn", "error").length, 1, "only the abandonment's warning");
    await queue.close();
  });

  it("a handler that finishes before the deadline is acked as usual", async () => {
    const { queue, clock } = await openTestQueue();
    const id = await queue.enqueue("q", "x");
    const shutdown = new AbortController();
    const { calls, logger, done, resolved } = await startHung(queue, { signal: shutdown.signal });
    const { signal } = calls[0]!.ctx;
    shutdown.abort();
    clock.advance(999);
    await turns(10);
    assert.equal(resolved(), false);
    calls[0]!.finish();
    await done;
    clock.advance(10_000);
    await turns(10);
    assert.equal(signal.aborted, false, "no deadline after the worker ended");
    const job = await queue.getJob(id);
    assert.deepEqual([job?.status, job?.attempts], ["done", 1]);
    assert.equal(Buffer.from(job!.result!).toString(), "late");
    assert.deepEqual(logger.messages("warn", "error"), []);
    await queue.close();
  });

  it("queue.close() with a hung handler: the worker resolves at the deadline, and the next open requeues the job", async () => {
    const store = new MemoryStore();
    const { queue, clock } = await openTestQueue(NO_BACKOFF, store);
    const id = await queue.enqueue("q", "x");
    // No signal: only the close stops it.
    const { calls, logger, done, resolved } = await startHung(queue);
    await queue.close();
    assert.equal(calls[0]!.ctx.signal.aborted, true, "the close aborts it, as ever");
    clock.advance(999);
    await turns(10);
    assert.equal(resolved(), false, "not before the deadline");
    clock.advance(1);
    await done;
    assert.equal(logger.at("warn", "error").length, 1);
    assert.match(
      logger.messages("warn")[0]!,
      /1 handler\(s\) of queue "q" still running 1000 ms after the shutdown began were abandoned \(shutdownTimeoutMs\) once the queue had closed/,
    );
    calls[0]!.finish();
    await turns(10);
    const { queue: reopened } = await openTestQueue(NO_BACKOFF, store);
    const job = await reopened.getJob(id);
    assert.deepEqual([job?.status, job?.attempts], ["pending", 1], "requeued as interrupted");
    assert.deepEqual(
      (await reopened.attemptHistory(id)).map((e) => e.outcome),
      ["interrupted"],
    );
    await reopened.close();
  });

  it("fenced with a hung handler: resolves at the deadline after one line, and the new writer runs the job again", async () => {
    const { queue, store, clock } = await openTestQueue();
    await queue.enqueue("q", "job");
    const { logger, done, resolved } = await startHung(queue);
    const { queue: successor } = await openTestQueue({}, store, clock);
    await assert.rejects(queue.enqueue("q", "x")); // the write that finds the fence
    await turns(10);
    assert.equal(queue.closed, true);
    clock.advance(999);
    await turns(10);
    assert.equal(resolved(), false, "not before the deadline");
    clock.advance(1);
    await done;
    const lines = logger.messages("warn", "error");
    assert.equal(lines.length, 1, lines.join("\n"));
    assert.match(
      lines[0]!,
      /^worker: queue "q" stopped: another process opened the store \(fenced\); 1 handler\(s\) still running at the shutdown deadline were abandoned, and the new writer runs their jobs again too$/,
    );
    const [job] = (await successor.listJobs("q", "pending")).jobs;
    assert.equal(job?.attempts, 1);
    await successor.close();
  });

  it("a claim the reaper took back (autoRenew: false) is not settled at the deadline, and the warning says so (no lost-claim line)", async () => {
    const { queue, clock } = await openTestQueue({ ...NO_BACKOFF, reaperIntervalMs: 100 });
    const id = await queue.enqueue("q", "x");
    const shutdown = new AbortController();
    const { logger, done } = await startHung(queue, {
      signal: shutdown.signal,
      shutdownTimeoutMs: 5_000,
      autoRenew: false,
      leaseMs: 1_000,
    });
    shutdown.abort(); // before the lease runs out: no worker claims the job again
    clock.advance(1_500);
    await until(async () => (await queue.getJob(id))?.status === "pending", "the lease reaped");
    clock.advance(3_500);
    await done;
    const history = (await queue.attemptHistory(id)).map((e) => e.outcome);
    assert.deepEqual(history, ["lease_expired"], "no failed attempt on top");
    assert.deepEqual(
      logger.messages("warn", "error").filter((m) => /lost its claim/.test(m)),
      [],
    );
    // The deadline's warning names why nothing was failed, rather than "0 attempt(s) failed".
    assert.deepEqual(logger.messages("warn", "error"), [
      'worker: 1 handler(s) of queue "q" still running 5000 ms after the shutdown began were ' +
        "abandoned (shutdownTimeoutMs): 1 job(s) had been settled already or their claim lost " +
        "(cancelled, or its lease ran out), so nothing was written for them; a late return or throw is ignored",
    ]);
    await queue.close();
  });

  it("a job whose timeoutMs failed it already is not settled again at the deadline", async () => {
    const { queue, clock } = await openTestQueue(NO_BACKOFF);
    const id = await queue.enqueue("q", "x", { timeoutMs: 500 });
    const shutdown = new AbortController();
    const { calls, logger, done } = await startHung(queue, { signal: shutdown.signal });
    const { signal } = calls[0]!.ctx;
    shutdown.abort();
    clock.advance(500);
    await until(async () => (await queue.getJob(id))?.lastError !== undefined, "the time-out");
    clock.advance(500);
    await done;
    assert.equal((signal.reason as DOMException).name, "TimeoutError", "not the shutdown's reason");
    // Abandoned, but its attempt was not failed at the deadline: the warning says why.
    assert.deepEqual(
      logger.at("warn", "error").map((line) => line.fields),
      [{ queue: "q", abandoned: 1, failed: 0, timedOut: 1, settledOrLost: 0, ownTransaction: 0 }],
    );
    assert.deepEqual(logger.messages("warn"), [
      'worker: 1 handler(s) of queue "q" still running 1000 ms after the shutdown began were ' +
        "abandoned (shutdownTimeoutMs): 1 attempt(s) had already failed as timed out (timeoutMs) " +
        "and were not failed again; a late return or throw is ignored",
    ]);
    const job = await queue.getJob(id);
    assert.deepEqual(
      [job?.status, job?.attempts, job?.lastError],
      ["pending", 1, "timed out after 500 ms"],
    );
    assert.deepEqual(
      (await queue.attemptHistory(id)).map((e) => e.outcome),
      ["timed_out"],
    );
    await queue.close();
  });

  it("one handler timed out already, one hung: the warning counts each for what happened to it", async () => {
    const { queue, clock } = await openTestQueue(NO_BACKOFF);
    await queue.enqueue("q", "timed", { timeoutMs: 500 });
    await queue.enqueue("q", "hung");
    const { calls, handler } = hangingHandler();
    const logger = recordingLogger();
    const shutdown = new AbortController();
    const done = worker(queue, handler, {
      signal: shutdown.signal,
      shutdownTimeoutMs: 1_000,
      concurrency: 2,
      logger,
    });
    await until(() => calls.length === 2, "both handlers to start");
    shutdown.abort();
    clock.advance(500);
    await until(async () => (await queue.stats("q")).pending === 1, "the time-out");
    clock.advance(500);
    await done;
    assert.deepEqual(
      logger.at("warn", "error").map((line) => line.fields),
      [{ queue: "q", abandoned: 2, failed: 1, timedOut: 1, settledOrLost: 0, ownTransaction: 0 }],
    );
    assert.deepEqual(logger.messages("warn"), [
      'worker: 2 handler(s) of queue "q" still running 1000 ms after the shutdown began were ' +
        "abandoned (shutdownTimeoutMs): 1 attempt(s) failed (retried, dead-lettered, or removed " +
        "if its job's cancel was requested, as for any failure), 1 attempt(s) had already failed " +
        "as timed out (timeoutMs) and were not failed again; a late return or throw is ignored",
    ]);
    await queue.close();
  });

  it("releases ready claims at once under prefetch and fails only the hung handler's attempt", async () => {
    const { queue, clock } = await openTestQueue(NO_BACKOFF);
    const [hung, ready] = await queue.enqueueBatch("q", ["1", "2"]);
    const { calls, handler } = hangingHandler();
    const shutdown = new AbortController();
    const done = worker(queue, handler, {
      signal: shutdown.signal,
      shutdownTimeoutMs: 1_000,
      prefetch: 1,
    });
    await until(
      async () => calls.length === 1 && (await queue.stats("q")).claimed === 2,
      "both claimed",
    );
    shutdown.abort();
    await until(async () => (await queue.stats("q")).claimed === 1, "the ready claim released");
    assert.deepEqual(
      [(await queue.getJob(ready!))?.status, (await queue.getJob(ready!))?.attempts],
      ["pending", 0],
    );
    clock.advance(1_000);
    await done;
    const job = await queue.getJob(hung!);
    assert.deepEqual([job?.status, job?.attempts, job?.lastError], ["pending", 1, ABANDONED]);
    assert.equal(calls.length, 1, "no handler started after the shutdown");
    await queue.close();
  });

  it("a handler whose own transaction settles its job when its signal aborts is not failed again", async () => {
    const { queue } = await openTestQueue(NO_BACKOFF);
    const id = await queue.enqueue("q", "x");
    const logger = recordingLogger();
    const shutdown = new AbortController();
    let started = false;
    const done = worker(
      queue,
      (job, ctx) =>
        new Promise(() => {
          started = true;
          ctx.signal.addEventListener("abort", () => {
            void ctx.transaction((tx) => {
              tx.ack(job, { result: "saved on shutdown" });
              tx.enqueue("next", "follow-up");
            });
          });
        }),
      // 0: abandoned as soon as the shutdown starts
      { signal: shutdown.signal, shutdownTimeoutMs: 0, logger },
    );
    await until(() => started, "the handler to start");
    shutdown.abort();
    await done;
    await queue.flush();
    const job = await queue.getJob(id);
    assert.deepEqual([job?.status, job?.attempts], ["done", 1]);
    assert.equal(Buffer.from(job!.result!).toString(), "saved on shutdown");
    assert.equal((await queue.stats("next")).pending, 1);
    assert.equal(
      logger.messages("warn", "error").filter((m) => /lost its claim/.test(m)).length,
      0,
      "no lost-claim line",
    );
    await queue.close();
  });

  it("without shutdownTimeoutMs a hung handler is waited for, however long (unchanged)", async () => {
    const { queue, clock } = await openTestQueue();
    const id = await queue.enqueue("q", "x");
    const { calls, handler } = hangingHandler();
    const shutdown = new AbortController();
    const done = worker(queue, handler, { signal: shutdown.signal });
    const resolved = watch(done).settled;
    await until(() => calls.length === 1, "the handler to start");
    shutdown.abort();
    clock.advance(24 * 3_600_000);
    await turns(20);
    assert.equal(resolved(), false);
    assert.equal(calls[0]!.ctx.signal.aborted, false);
    calls[0]!.finish();
    await done;
    assert.equal((await queue.getJob(id))?.status, "done");
    await queue.close();
  });

  it("refuses a bad shutdownTimeoutMs with InvalidArgumentError and claims nothing", async () => {
    const { queue } = await openTestQueue();
    await queue.enqueue("q", "x");
    let calls = 0;
    for (const bad of [-1, 1.5, "1000", Number.NaN, Number.POSITIVE_INFINITY, null, 2 ** 53]) {
      await assert.rejects(
        runWorker(queue, "q", () => calls++, { shutdownTimeoutMs: bad as number }),
        (error: unknown) =>
          error instanceof InvalidArgumentError &&
          /^Expected `options\.shutdownTimeoutMs` to be a non-negative integer number of milliseconds, got /.test(
            error.message,
          ),
      );
    }
    assert.equal(calls, 0);
    const stats = await queue.stats("q");
    assert.deepEqual([stats.pending, stats.claimed], [1, 0], "nothing claimed");
    await queue.close();
  });

  it("many workers with the option on one queue print no warning (no listener limit)", async () => {
    const { queue } = await openTestQueue();
    const warnings: string[] = [];
    const onWarning = (warning: Error): void => {
      warnings.push(`${warning.name}: ${warning.message}`);
    };
    process.on("warning", onWarning);
    try {
      const shutdowns = Array.from({ length: 20 }, () => new AbortController());
      const workers = shutdowns.map((shutdown) =>
        worker(queue, () => "ok", { signal: shutdown.signal, shutdownTimeoutMs: 1_000 }),
      );
      await turns(10);
      for (const shutdown of shutdowns) shutdown.abort();
      await Promise.all(workers);
      // Node reports a warning a tick after the listener that caused it.
      await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual(warnings, []);
    } finally {
      process.off("warning", onWarning);
    }
    // The queue's stop callbacks: called once on close, unless removed first.
    const called: string[] = [];
    const off = onQueueStopped(queue, () => called.push("removed"));
    onQueueStopped(queue, () => called.push("kept"));
    off?.();
    await queue.close();
    assert.deepEqual(called, ["kept"]);
    onQueueStopped(queue, () => called.push("late"));
    assert.deepEqual(called, ["kept"], "never called once the queue stopped");
  });
});
