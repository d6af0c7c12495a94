/**
 * The handler's run under runWorker: what its return value or throw does
 * however it comes (a plain value, a promise, another thenable, a throw
 * before or after returning), and `ctx` members that work when destructured.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { silentLogger } from "../../src/logger.js";
import { Queue } from "../../src/queue/queue.js";
import type { Claim } from "../../src/queue/types.js";
import { FileStore } from "../../src/store/file.js";
import { MemoryStore } from "../../src/store/memory.js";
import { FaultStore } from "../../src/store/wrappers/fault.js";
import { runWorker } from "../../src/worker/run-worker.js";
import type { JobContext } from "../../src/worker/types.js";
import { openTestQueue, turns } from "../queue/helpers.js";
import { recordingLogger } from "../recording-logger.js";
import { until } from "../until.js";

const text = (bytes: Uint8Array | null | undefined): string | undefined =>
  bytes == null ? undefined : Buffer.from(bytes).toString();

/** A thenable that is no Promise: `await` calls its `then`. */
function thenable(value: unknown): PromiseLike<unknown> {
  return {
    // biome-ignore lint/suspicious/noThenProperty: the point of the test
    then(onFulfilled?: ((v: unknown) => unknown) | null) {
      queueMicrotask(() => onFulfilled?.(value));
      return undefined as unknown as PromiseLike<unknown>;
    },
  } as PromiseLike<unknown>;
}

/**
 * Runs a worker on queue "work" until it has handed `count` jobs to `handler`,
 * which gets each job as runWorker gives it (its return value is not wrapped).
 */
async function handleJobs(
  queue: Parameters<typeof runWorker>[0],
  count: number,
  concurrency: number,
  handler: (job: Claim) => unknown,
): Promise<void> {
  const stop = new AbortController();
  let handled = 0;
  await runWorker(
    queue,
    "work",
    (job) => {
      if (++handled === count) stop.abort();
      return handler(job);
    },
    { concurrency, signal: stop.signal, pollIntervalMs: 0, logger: silentLogger },
  );
}

for (const kind of ["memory", "file"] as const) {
  describe(`runWorker: how a handler ends (${kind} store)`, { timeout: 60_000 }, () => {
    const open = async () => {
      if (kind === "memory")
        return { ...(await openTestQueue({ defaultQueueConfig: { maxAttempts: 1 } })), dir: null };
      const dir = await mkdtemp(join(tmpdir(), "taquba-job-run-"));
      const opened = await openTestQueue(
        { defaultQueueConfig: { maxAttempts: 1 } },
        new FileStore(dir),
      );
      return { ...opened, dir };
    };

    it("plain values, promises and other thenables become results; throws before or while returning fail the attempt", async () => {
      const { queue, dir } = await open();
      const cases: Array<(job: Claim) => unknown> = [
        () => "plain",
        () => Promise.resolve("promised"),
        () => thenable({ via: "thenable" }),
        () => {
          throw new Error("thrown at once");
        },
        () => Promise.reject(new Error("rejected later")),
        () => ({
          // biome-ignore lint/suspicious/noThenProperty: the point of the test
          get then(): never {
            throw new Error("a then that throws");
          },
        }),
        () => undefined,
      ];
      const ids = await queue.enqueueBatch(
        "work",
        cases.map((_, i) => String(i)),
      );
      await handleJobs(queue, cases.length, 4, (job) => cases[Number(text(job.payload))]!(job));
      const jobs = await Promise.all(ids.map((id) => queue.getJob(id)));
      assert.equal(text(jobs[0]?.result), "plain");
      assert.equal(text(jobs[1]?.result), "promised");
      assert.equal(text(jobs[2]?.result), '{"via":"thenable"}');
      assert.deepEqual([jobs[3]?.status, jobs[3]?.lastError], ["dead", "thrown at once"]);
      assert.deepEqual([jobs[4]?.status, jobs[4]?.lastError], ["dead", "rejected later"]);
      assert.deepEqual([jobs[5]?.status, jobs[5]?.lastError], ["dead", "a then that throws"]);
      assert.equal(jobs[6], null, "no result: acked and deleted");
      const stats = await queue.stats("work");
      assert.deepEqual([stats.pending, stats.claimed], [0, 0]);
      await queue.close();
      if (dir !== null) await rm(dir, { recursive: true, force: true });
    });

    it("a returned promise with a throwing constructor getter or an own then is awaited as by await, and the worker goes on", async () => {
      const { queue, dir } = await open();
      const unhandled: unknown[] = [];
      const onUnhandled = (reason: unknown) => unhandled.push(reason);
      process.on("unhandledRejection", onUnhandled);
      const cases: Array<() => unknown> = [
        () => "before",
        () => {
          const promise = Promise.resolve("x");
          Object.defineProperty(promise, "constructor", {
            get(): never {
              throw new Error("constructor getter");
            },
          });
          return promise;
        },
        () => {
          const promise = Promise.resolve("own then ignored");
          // biome-ignore lint/suspicious/noThenProperty: the point of the test
          promise.then = (): never => {
            throw new Error("own then");
          };
          return promise;
        },
        () => "after",
      ];
      const ids = await queue.enqueueBatch(
        "work",
        cases.map((_, i) => String(i)),
      );
      try {
        await handleJobs(queue, cases.length, 4, (job) => cases[Number(text(job.payload))]!());
        await new Promise((resolve) => setImmediate(resolve));
      } finally {
        process.off("unhandledRejection", onUnhandled);
      }
      const jobs = await Promise.all(ids.map((id) => queue.getJob(id)));
      assert.equal(text(jobs[0]?.result), "before");
      assert.deepEqual([jobs[1]?.status, jobs[1]?.lastError], ["dead", "constructor getter"]);
      assert.equal(text(jobs[2]?.result), "own then ignored");
      assert.equal(text(jobs[3]?.result), "after");
      assert.deepEqual(unhandled, []);
      await queue.close();
      if (dir !== null) await rm(dir, { recursive: true, force: true });
    });

    it("a thrown value that cannot become a string fails the attempt with a readable error, and the worker goes on", async () => {
      const { queue, dir } = await open();
      const uncaught: unknown[] = [];
      const onUncaught = (error: unknown) => uncaught.push(error);
      process.on("uncaughtException", onUncaught);
      const ids = await queue.enqueueBatch("work", ["bad", "bad", "good"]);
      try {
        await handleJobs(queue, 3, 2, (job) => {
          if (text(job.payload) === "bad") throw Object.create(null);
          return "good";
        });
      } finally {
        process.off("uncaughtException", onUncaught);
      }
      const jobs = await Promise.all(ids.map((id) => queue.getJob(id)));
      for (const job of jobs.slice(0, 2)) {
        assert.equal(job?.status, "dead");
        assert.match(job?.lastError ?? "", /\[object Object\]/);
      }
      assert.equal(text(jobs[2]?.result), "good");
      assert.deepEqual(uncaught, []);
      await queue.close();
      if (dir !== null) await rm(dir, { recursive: true, force: true });
    });

    it("returned bytes are the result as they were at the return, whatever the handler writes into them after", async () => {
      const { queue, dir } = await open();
      const ids = await queue.enqueueBatch("work", ["aaaa", "bbbb", "cccc", "dddd"]);
      // One scratch buffer each handler encodes its result into: written again right after
      // the return (a timer of the handler's), and by the next job's handler, which the
      // worker starts as soon as the slot frees (the next job is held ready).
      const scratch = new Uint8Array(4);
      const stop = new AbortController();
      let handled = 0;
      const returns: Array<(job: Claim) => unknown> = [
        async (job) => {
          scratch.set(job.payload);
          setImmediate(() => scratch.fill(0x21));
          return scratch;
        },
        (job) => {
          scratch.set(job.payload);
          setImmediate(() => scratch.fill(0x21));
          return Promise.resolve(scratch);
        },
        (job) => {
          scratch.set(job.payload);
          setImmediate(() => scratch.fill(0x21));
          return thenable(scratch);
        },
        (job) => {
          scratch.set(job.payload);
          queueMicrotask(() => scratch.fill(0x21));
          return scratch;
        },
      ];
      await runWorker(
        queue,
        "work",
        (job) => {
          if (++handled === ids.length) stop.abort();
          return returns[handled - 1]!(job);
        },
        { prefetch: 1, signal: stop.signal, pollIntervalMs: 0, logger: silentLogger },
      );
      const results = await Promise.all(
        ids.map(async (id) => text((await queue.getJob(id!))?.result)),
      );
      assert.deepEqual(results, ["aaaa", "bbbb", "cccc", "dddd"]);
      await queue.close();
      if (dir !== null) await rm(dir, { recursive: true, force: true });
    });

    it("ctx functions are own properties: a spread or Object.assign copy keeps them working", async () => {
      const { queue, dir } = await open();
      const id = await queue.enqueue("work", "x");
      const stop = new AbortController();
      let keys: string[] = [];
      await runWorker(
        queue,
        "work",
        async (_job, ctx: JobContext) => {
          try {
            keys = Object.keys(ctx);
            const copy = { ...ctx, extra: 1 };
            await copy.renewLease(60_000);
            Object.assign({}, ctx).progress({ step: 2 });
            await copy.transaction((tx) => tx.kvPut("k", "spread"));
            return "ok";
          } finally {
            stop.abort();
          }
        },
        { signal: stop.signal, pollIntervalMs: 0, logger: silentLogger },
      );
      assert.deepEqual(keys.sort(), ["progress", "renewLease", "transaction"]);
      const job = await queue.getJob(id);
      assert.equal(text(job?.result), "ok");
      assert.deepEqual(job?.progress, { step: 2 });
      assert.equal(text(await queue.kvGet("k")), "spread");
      await queue.close();
      if (dir !== null) await rm(dir, { recursive: true, force: true });
    });

    it("ctx members work when destructured", async () => {
      const { queue, dir } = await open();
      const id = await queue.enqueue("work", "x");
      const stop = new AbortController();
      const seen: unknown[] = [];
      await runWorker(
        queue,
        "work",
        async (_job, ctx: JobContext) => {
          const { signal, renewLease, progress, transaction } = ctx;
          seen.push(signal.aborted);
          seen.push(typeof (await renewLease(60_000)));
          progress({ step: 1 });
          const result = await transaction((tx) => tx.kvPut("k", "v"));
          seen.push(typeof result);
          stop.abort();
          return "ok";
        },
        { signal: stop.signal, pollIntervalMs: 0, logger: silentLogger },
      );
      assert.deepEqual(seen, [false, "number", "object"]);
      const job = await queue.getJob(id);
      assert.equal(text(job?.result), "ok");
      assert.deepEqual(job?.progress, { step: 1 });
      assert.equal(text(await queue.kvGet("k")), "v");
      await queue.close();
      if (dir !== null) await rm(dir, { recursive: true, force: true });
    });
  });
}

describe("runWorker: a run's lease renewal", { timeout: 30_000 }, () => {
  it("a job that finished is renewed no more while the rest of its batch runs on", async () => {
    const { queue, clock } = await openTestQueue();
    const [quick, slow] = await queue.enqueueBatch("work", ["quick", "slow"]);
    const renewed: string[] = [];
    const renewLease = queue.renewLease.bind(queue);
    queue.renewLease = (claim, extensionMs) => {
      renewed.push(claim.id);
      return renewLease(claim, extensionMs);
    };
    let release!: () => void;
    const slowRuns = new Promise<void>((resolve) => {
      release = resolve;
    });
    let slowStarted!: () => void;
    const started = new Promise<void>((resolve) => {
      slowStarted = resolve;
    });
    const stop = new AbortController();
    const worker = runWorker(
      queue,
      "work",
      async (job) => {
        if (text(job.payload) === "quick") return "done";
        slowStarted();
        await slowRuns;
        return "slow done";
      },
      {
        concurrency: 2,
        leaseMs: 900,
        signal: stop.signal,
        pollIntervalMs: 0,
        logger: silentLogger,
      },
    );
    await started;
    // The quick job is acked (its record kept as done or deleted) before time moves.
    for (let i = 0; i < 50 && (await queue.getJob(quick!))?.status === "claimed"; i++)
      await new Promise((resolve) => setImmediate(resolve));
    assert.notEqual((await queue.getJob(quick!))?.status, "claimed");
    for (let i = 0; i < 3; i++) {
      clock.advance(300);
      for (let t = 0; t < 3; t++) await new Promise((resolve) => setImmediate(resolve));
    }
    assert.equal(renewed.filter((id) => id === slow).length, 3, "the running job is renewed");
    assert.deepEqual(
      renewed.filter((id) => id === quick),
      [],
      "the finished job is not",
    );
    stop.abort();
    release();
    await worker;
    await queue.close();
  });
});

/** A payload large enough that a transaction enqueuing it does not commit within the call. */
const LARGE = "x".repeat(2_000_000);

describe("runWorker timeoutMs: the handler's own settling transaction", { timeout: 60_000 }, () => {
  /**
   * A worker on queue "work" whose handler, on its first call, runs `build`
   * in one `ctx.transaction` (held up uploading its payload) and then
   * `returns` at once or waits for its signal; later calls return at once.
   */
  async function timedOutWithTransaction(
    build: (tx: Parameters<Parameters<JobContext["transaction"]>[0]>[0], job: Claim) => void,
    returns: "at once" | "on abort",
    maxAttempts = 3,
  ) {
    const faults = new FaultStore(new MemoryStore());
    const { queue, clock } = await openTestQueue(
      { defaultQueueConfig: { retryBackoffBaseMs: 0, maxAttempts } },
      faults,
    );
    const id = await queue.enqueue("work", "x", { timeoutMs: 1_000 });
    const logger = recordingLogger();
    const stop = new AbortController();
    const state = { calls: 0, tx: "none" };
    const payload = faults.pause({ op: "put", keyPrefix: "q/payload/" });
    const worker = runWorker(
      queue,
      "work",
      async (job: Claim, ctx: JobContext) => {
        if (++state.calls > 1) return "retried";
        ctx
          .transaction((tx) => build(tx, job))
          .then(
            () => (state.tx = "ok"),
            (error: Error) => (state.tx = error.name),
          );
        if (returns === "on abort")
          await new Promise((resolve) => ctx.signal.addEventListener("abort", resolve));
        return "from-return";
      },
      { signal: stop.signal, logger, pollIntervalMs: 0 },
    );
    await payload.whenHeld();
    await turns(5);
    clock.advance(1_000); // the deadline passes while the transaction waits for its payload
    await turns(20);
    payload.release();
    await until(() => state.tx !== "none", "the transaction to end");
    await until(
      async () => (await queue.getJob(id))?.status !== "claimed",
      "the job to be settled",
    );
    await turns(20);
    stop.abort();
    await worker;
    const job = await queue.getJob(id);
    const history = (await queue.attemptHistory(id)).map((e) => [e.outcome, e.error]);
    await queue.close();
    return { job, history, state, warnings: logger.at("warn", "error") };
  }

  it("an ack in flight at the deadline is not beaten by the time-out", async () => {
    const { job, history, state, warnings } = await timedOutWithTransaction((tx, job) => {
      tx.ack(job, { result: "from-tx" });
      tx.enqueue("next", LARGE);
    }, "on abort");
    assert.equal(state.tx, "ok");
    assert.deepEqual([job?.status, job?.attempts, job?.lastError], ["done", 1, undefined]);
    assert.equal(text(job?.result), "from-tx");
    assert.deepEqual(history, [["completed", undefined]]);
    assert.equal(state.calls, 1);
    assert.deepEqual(warnings, []);
  });

  it("the attempt times out once that transaction fails", async () => {
    const { job, history, state, warnings } = await timedOutWithTransaction(
      (tx, job) => {
        tx.ack(job, { result: "from-tx" });
        tx.enqueue("next", LARGE);
        tx.kvCheck("absent", "present"); // does not hold: the transaction fails
      },
      "on abort",
      1,
    );
    assert.equal(state.tx, "ConflictError");
    assert.deepEqual(
      [job?.status, job?.attempts, job?.lastError],
      ["dead", 1, "timed out after 1000 ms"],
    );
    assert.deepEqual(history, [["timed_out", "timed out after 1000 ms"]]);
    assert.deepEqual(warnings, []);
  });

  it("a handler that returned before the deadline does not time out while its transaction is in flight", async () => {
    const { job, history, state, warnings } = await timedOutWithTransaction((tx, job) => {
      tx.ack(job, { result: "from-tx" });
      tx.enqueue("next", LARGE);
      tx.kvCheck("absent", "present"); // does not hold: the transaction fails
    }, "at once");
    assert.equal(state.tx, "ConflictError");
    // Its return value settles the job, as without a deadline: it was not running any more.
    assert.deepEqual([job?.status, job?.attempts, job?.lastError], ["done", 1, undefined]);
    assert.equal(text(job?.result), "from-return");
    assert.deepEqual(history, [["completed", undefined]]);
    assert.deepEqual(warnings, []);
  });

  it("a queue closed while that transaction is in flight ends as at the shutdown deadline", async () => {
    const faults = new FaultStore(new MemoryStore());
    const { queue, clock } = await openTestQueue(
      { defaultQueueConfig: { retryBackoffBaseMs: 0, maxAttempts: 1 } },
      faults,
    );
    const id = await queue.enqueue("work", "x", { timeoutMs: 1_000 });
    const logger = recordingLogger();
    let tx = "none";
    const payload = faults.pause({ op: "put", keyPrefix: "q/payload/" });
    const worker = runWorker(
      queue,
      "work",
      async (job: Claim, ctx: JobContext) => {
        ctx
          .transaction((t) => {
            t.ack(job, { result: "from-tx" });
            t.enqueue("next", LARGE);
          })
          .then(
            () => (tx = "ok"),
            (error: Error) => (tx = error.name),
          );
        await new Promise((resolve) => ctx.signal.addEventListener("abort", resolve));
        return "from-return";
      },
      { logger, pollIntervalMs: 0, shutdownTimeoutMs: 100 },
    );
    await payload.whenHeld();
    await turns(5);
    clock.advance(1_000); // the deadline passes while the transaction waits for its payload
    await turns(20);
    const closing = queue.close();
    await turns(20);
    payload.release();
    await closing;
    await worker;
    assert.equal(tx, "ClosedError");
    // Nothing was refused: the time-out was not issued once the queue had closed.
    assert.deepEqual(
      logger.at("warn", "error").map((line) => line.message),
      [
        'worker: 1 job(s) of queue "work" passed their timeoutMs while the handler\'s own transaction settling ' +
          "the job was in flight, and the queue closed before the time-out could be recorded; the next open " +
          "handles those claims as interrupted by the close (retried, or dead when out of attempts)",
      ],
    );
    // As for a handler still running when the queue closed: the next open ends the claim.
    const reopened = await Queue.open(faults, "q", { logger: silentLogger });
    const job = await reopened.getJob(id);
    assert.deepEqual(
      [job?.status, job?.attempts, job?.lastError],
      ["dead", 1, "claim interrupted by process exit"],
    );
    assert.deepEqual(
      (await reopened.attemptHistory(id)).map((e) => e.outcome),
      ["interrupted"],
    );
    await reopened.close();
  });
});
