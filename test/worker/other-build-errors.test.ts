/**
 * A queue of the package's other build (ESM vs CommonJS) rejects with the
 * other build's error classes, which `instanceof` does not recognise: the
 * worker tells them apart by `code`, and behaves as for this build's errors.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { taqubaErrorCode } from "../../src/errors.js";
import type { Queue } from "../../src/queue/queue.js";
import type { Claim } from "../../src/queue/types.js";
import { runWorker } from "../../src/worker/run-worker.js";
import {
  memoryAndFileStores,
  openTestQueue,
  otherBuildsQueue,
  rejection,
} from "../queue/helpers.js";
import { recordingLogger } from "../recording-logger.js";
import { until } from "../until.js";

/** The other build's form of a taquba error: no class of this build, the same code. */
function asOtherBuilds(error: unknown): unknown {
  const code = taqubaErrorCode(error);
  if (code === undefined) return error;
  const other = new Error((error as Error).message);
  other.name = (error as Error).name;
  return Object.assign(other, { code });
}

/** `queue` of the other build: its settlements and claims reject with that build's errors. */
function otherBuildsErrors(queue: Queue): Queue {
  const other = otherBuildsQueue(queue) as unknown as Record<string, unknown>;
  for (const name of ["ack", "nack", "deadLetter", "release", "claimBatch"]) {
    const method = other[name] as (...args: unknown[]) => Promise<unknown>;
    other[name] = (...args: unknown[]) => {
      try {
        return method(...args).catch((error: unknown) => {
          throw asOtherBuilds(error);
        });
      } catch (error) {
        throw asOtherBuilds(error);
      }
    };
  }
  return other as unknown as Queue;
}

describe("runWorker with the other build's errors", { timeout: 20_000 }, () => {
  for (const [storeName, makeStore] of memoryAndFileStores("taquba-other-build-errors-")) {
    it(`${storeName}: a queue closed under the worker ends it normally, its refused settlements counted (CLOSED)`, async () => {
      const { queue } = await openTestQueue({}, await makeStore());
      await queue.enqueueBatch(
        "q",
        Array.from({ length: 50 }, (_, i) => String(i)),
      );
      const logger = recordingLogger();
      let handled = 0;
      let closing: Promise<void> | undefined;
      await runWorker(
        otherBuildsErrors(queue),
        "q",
        () => {
          if (++handled === 10) closing = queue.close();
        },
        { pollIntervalMs: 10, logger },
      );
      await closing;
      assert.ok(handled >= 10);
      assert.equal(
        logger.messages("warn", "error").length,
        1,
        logger.messages("warn", "error").join("\n"),
      );
      assert.match(logger.messages("warn", "error")[0]!, /refused because the queue closed/);
    });

    it(`${storeName}: a result the queue refuses fails the attempt at once (INVALID_ARGUMENT)`, async () => {
      const { queue } = await openTestQueue(
        { maxPayloadBytes: 1_024, defaultQueueConfig: { maxAttempts: 1 } },
        await makeStore(),
      );
      const id = await queue.enqueue("q", "x");
      const stop = new AbortController();
      const logger = recordingLogger();
      await runWorker(
        otherBuildsErrors(queue),
        "q",
        () => {
          stop.abort();
          return "r".repeat(2_000);
        },
        { signal: stop.signal, pollIntervalMs: 0, logger },
      );
      const job = await queue.getJob(id);
      assert.equal(job?.status, "dead", "not left claimed until its lease expires");
      assert.match(job?.lastError ?? "", /cannot be stored as its result: .*at most 1024 bytes/);
      assert.deepEqual(logger.messages("warn", "error"), []);
      await queue.close();
    });

    it(`${storeName}: an ack that lost its claim is one log line and the loop goes on (CLAIM_LOST)`, async () => {
      const { queue, clock } = await openTestQueue({}, await makeStore());
      await queue.enqueue("q", "slow");
      let started!: () => void;
      const running = new Promise<void>((resolve) => {
        started = resolve;
      });
      let release!: () => void;
      const released = new Promise<void>((resolve) => {
        release = resolve;
      });
      const logger = recordingLogger();
      const processed: string[] = [];
      const shutdown = new AbortController();
      const worker = runWorker(
        otherBuildsErrors(queue),
        "q",
        async (job: Claim) => {
          processed.push(`#${job.attempts}`);
          if (job.attempts === 1) {
            started();
            await released;
          }
        },
        { signal: shutdown.signal, leaseMs: 1_000, logger, autoRenew: false },
      );
      await running;
      clock.advance(1_000);
      await queue.reapNow(); // the lease is lost: the job is pending again
      release(); // the handler returns; its ack fails with CLAIM_LOST
      await until(async () => (await queue.stats("q")).done === 1);
      shutdown.abort();
      await worker;
      assert.deepEqual(processed, ["#1", "#2"]);
      assert.equal(
        logger.messages("warn", "error").length,
        1,
        logger.messages("warn", "error").join("\n"),
      );
      assert.match(logger.messages("warn", "error")[0]!, /lost its claim/);
      await queue.close();
    });

    it(`${storeName}: a settlement that meets a failed store ends the worker with it (STORAGE)`, async () => {
      const { queue } = await openTestQueue({}, await makeStore());
      await queue.enqueue("q", "x");
      const other = otherBuildsErrors(queue);
      other.ack = () =>
        Promise.reject(Object.assign(new Error("store failed"), { code: "STORAGE" }));
      const logger = recordingLogger();
      // A real failed store fails the claims too; here only the ack fails, so shut down.
      const stop = new AbortController();
      const error = await rejection(
        runWorker(other, "q", () => stop.abort(), { logger, signal: stop.signal }),
      );
      assert.equal(error.code, "STORAGE");
      assert.deepEqual(logger.messages("warn", "error"), []);
      await queue.close();
    });
  }
});
