/**
 * `shutdownTimeoutMs` and a handler's own transaction that settles its job,
 * in flight when the handler is abandoned (the save-on-shutdown pattern: a
 * transaction from the abort listener of `ctx.signal`).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Queue } from "../../src/queue/queue.js";
import type { Transaction, TransactionResult } from "../../src/queue/transaction.js";
import type { Claim } from "../../src/queue/types.js";
import { MemoryStore } from "../../src/store/memory.js";
import { FaultStore } from "../../src/store/wrappers/fault.js";
import { runWorker } from "../../src/worker/run-worker.js";
import type { JobContext, WorkerOptions } from "../../src/worker/types.js";
import { NO_BACKOFF, openTestQueue, turns } from "../queue/helpers.js";
import { recordingLogger } from "../recording-logger.js";
import { until } from "../until.js";

const ABANDONED_AT_ONCE =
  "the worker shut down: the handler was still running 0 ms after the shutdown began (shutdownTimeoutMs)";

/** A payload large enough that a transaction enqueuing it does not commit within the call. */
const LARGE = "x".repeat(2_000_000);

/**
 * A worker with `shutdownTimeoutMs: 0` whose handler never returns and,
 * when its signal aborts, runs `build` in one `ctx.transaction`. Resolves
 * once the handler started; `tx` is that transaction's outcome (its result,
 * or the error's name), once it has one.
 */
async function saveOnAbort(queue: Queue, build: (tx: Transaction, job: Claim) => void) {
  const shutdown = new AbortController();
  const logger = recordingLogger();
  const state: { started: boolean; tx: TransactionResult | string | null } = {
    started: false,
    tx: null,
  };
  const handler = (job: Claim, ctx: JobContext): Promise<never> =>
    new Promise(() => {
      state.started = true;
      ctx.signal.addEventListener("abort", () => {
        ctx
          .transaction((tx) => build(tx, job))
          .then(
            (result) => {
              state.tx = result;
            },
            (error: Error) => {
              state.tx = error.name;
            },
          );
      });
    });
  const options: WorkerOptions = {
    signal: shutdown.signal,
    shutdownTimeoutMs: 0,
    logger,
    pollIntervalMs: 0,
  };
  const done = runWorker(queue, "q", handler, options);
  await until(() => state.started, "the handler to start");
  return { shutdown, done, state, logger };
}

describe("runWorker shutdownTimeoutMs: the handler's own settling transaction", {
  timeout: 60_000,
}, () => {
  it("an ack from the abort listener is durable when runWorker resolves", async () => {
    const store = new MemoryStore();
    const { queue } = await openTestQueue(NO_BACKOFF, store);
    const id = await queue.enqueue("q", "x");
    const { shutdown, done } = await saveOnAbort(queue, (tx, job) =>
      tx.ack(job, { result: "saved" }),
    );
    shutdown.abort();
    await done;
    // A crash now: the store opened again, the first queue neither closed nor flushed.
    const { queue: reopened } = await openTestQueue(NO_BACKOFF, store);
    const job = await reopened.getJob(id);
    assert.deepEqual([job?.status, job?.attempts], ["done", 1]);
    assert.equal(Buffer.from(job!.result!).toString(), "saved");
    assert.deepEqual(
      (await reopened.attemptHistory(id)).map((e) => e.outcome),
      ["completed"],
    );
    await reopened.close();
    await queue.close().catch(() => {});
  });

  it("a transaction that does not commit within its call is not beaten by the abandonment", async () => {
    const store = new MemoryStore();
    const { queue } = await openTestQueue(NO_BACKOFF, store);
    const id = await queue.enqueue("q", "x");
    const { shutdown, done, state, logger } = await saveOnAbort(queue, (tx, job) => {
      tx.ack(job, { result: "saved" });
      tx.enqueue("next", LARGE);
    });
    shutdown.abort();
    await done;
    assert.equal(typeof state.tx, "object", `the transaction committed (got ${String(state.tx)})`);
    const { queue: reopened } = await openTestQueue(NO_BACKOFF, store);
    const job = await reopened.getJob(id);
    assert.deepEqual([job?.status, job?.attempts, job?.lastError], ["done", 1, undefined]);
    assert.equal((await reopened.stats("next")).pending, 1, "its follow-up enqueued with it");
    assert.deepEqual(
      logger.at("warn", "error").map((line) => line.fields),
      [{ queue: "q", abandoned: 1, failed: 0, timedOut: 0, settledOrLost: 0, ownTransaction: 1 }],
      "one warning, and no lost-claim line",
    );
    await reopened.close();
    await queue.close().catch(() => {});
  });

  it("the attempt fails, durably, when that transaction fails", async () => {
    const store = new MemoryStore();
    const { queue } = await openTestQueue(NO_BACKOFF, store);
    const id = await queue.enqueue("q", "x");
    const { shutdown, done, state } = await saveOnAbort(queue, (tx, job) => {
      tx.ack(job, { result: "saved" });
      tx.enqueue("next", LARGE);
      tx.kvCheck("absent", "present"); // does not hold: the whole transaction fails
    });
    shutdown.abort();
    await done;
    assert.equal(state.tx, "ConflictError");
    const { queue: reopened } = await openTestQueue(NO_BACKOFF, store);
    const job = await reopened.getJob(id);
    assert.deepEqual(
      [job?.status, job?.attempts, job?.lastError],
      ["pending", 1, ABANDONED_AT_ONCE],
    );
    assert.deepEqual(
      (await reopened.attemptHistory(id)).map((e) => e.outcome),
      ["retried"],
    );
    assert.equal((await reopened.stats("next")).pending, 0);
    await reopened.close();
    await queue.close().catch(() => {});
  });
  it("a handler that returned is not abandoned while its transaction is in flight", async () => {
    // The handler returned before the deadline; its transaction, still uploading a payload,
    // then fails. Its return value settles the job, as without the option: it was not
    // running any more at the deadline.
    const faults = new FaultStore(new MemoryStore());
    const { queue, clock } = await openTestQueue(NO_BACKOFF, faults);
    const id = await queue.enqueue("q", "x");
    const logger = recordingLogger();
    const shutdown = new AbortController();
    let returned = false;
    let tx = "none";
    const payload = faults.pause({ op: "put", keyPrefix: "q/payload/" });
    const done = runWorker(
      queue,
      "q",
      (job: Claim, ctx: JobContext) => {
        ctx
          .transaction((t) => {
            t.ack(job, { result: "from-tx" });
            t.enqueue("next", LARGE);
            t.kvCheck("absent", "present"); // does not hold: the transaction fails
          })
          .then(
            () => (tx = "ok"),
            (error: Error) => (tx = error.name),
          );
        returned = true;
        return "from-return";
      },
      { signal: shutdown.signal, shutdownTimeoutMs: 1_000, logger, pollIntervalMs: 0 },
    );
    await until(() => returned, "the handler to return");
    await payload.whenHeld();
    shutdown.abort();
    clock.advance(1_000); // the deadline passes while the transaction waits for its payload
    await turns(20);
    payload.release();
    await done;
    assert.equal(tx, "ConflictError");
    const job = await queue.getJob(id);
    assert.equal(job?.status, "done");
    assert.equal(Buffer.from(job!.result!).toString(), "from-return");
    assert.deepEqual(logger.at("warn", "error"), []);
    await queue.close();
  });
});
