/** Test helpers for workers: a promise to resolve by hand, a worker whose ack lost its claim, a clean run's checks. */
import assert from "node:assert/strict";
import type { Logger } from "../../src/logger.js";
import type { Queue } from "../../src/queue/queue.js";
import type { Claim } from "../../src/queue/types.js";
import { runWorker } from "../../src/worker/run-worker.js";
import { openTestQueue } from "../queue/helpers.js";
import type { RecordingLogger } from "../recording-logger.js";
import { until } from "../until.js";

/** A promise and the function that resolves it. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/**
 * Runs a worker of queue "q" logging to `logger` over one job, "slow", whose
 * first run holds on while its lease (1 s, not renewed) runs out and the
 * reaper takes the job back; then it returns, so its ack fails with
 * CLAIM_LOST, and the retry completes. Resolves once the worker stopped (and
 * the queue closed) with what the handler ran, `payload#attempt` each.
 */
export async function runWithLostClaim(logger: Logger): Promise<string[]> {
  const { queue, clock } = await openTestQueue();
  const release = deferred();
  const shutdown = new AbortController();
  let worker: ReturnType<typeof runWorker> | undefined;
  try {
    await queue.enqueue("q", "slow");
    const started = deferred();
    const processed: string[] = [];
    worker = runWorker(
      queue,
      "q",
      async (job: Claim) => {
        processed.push(`${Buffer.from(job.payload).toString()}#${job.attempts}`);
        if (job.attempts === 1) {
          started.resolve();
          await release.promise;
        }
      },
      { signal: shutdown.signal, leaseMs: 1_000, logger, autoRenew: false },
    );
    await started.promise;
    clock.advance(1_000);
    await queue.reapNow(); // the lease is lost: the job is pending again
    release.resolve(); // the handler returns; its ack fails with CLAIM_LOST
    await until(async () => (await queue.stats("q")).done === 1, "the retry ran");
    shutdown.abort();
    await worker;
    return processed;
  } finally {
    // A failed check above must not leave the handler waiting: the worker would never end.
    release.resolve();
    shutdown.abort();
    await worker?.catch(() => {});
    await queue.close();
  }
}

/**
 * After a worker stopped: its handler ran job `id` once (`calls`), its signal
 * never aborted, the job completed, and nothing was logged as a warning or an error.
 */
export async function assertRanOnceCleanly(
  queue: Pick<Queue, "attemptHistory">,
  id: string,
  handler: { calls: number; aborted: boolean },
  logger: RecordingLogger,
): Promise<void> {
  assert.equal(handler.calls, 1, "delivered once");
  assert.equal(handler.aborted, false, "ctx.signal did not abort");
  assert.deepEqual(
    (await queue.attemptHistory(id)).map((attempt) => attempt.outcome),
    ["completed"],
  );
  assert.deepEqual(logger.messages("warn", "error"), []);
}
