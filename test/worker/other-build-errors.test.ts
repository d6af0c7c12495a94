/**
 * A queue of the package's other build (ESM vs CommonJS) rejects with the
 * other build's error classes, which `instanceof` does not recognise: the
 * worker tells them apart by `code`, and behaves as for this build's errors.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { taqubaErrorCode } from "../../src/errors.js";
import type { Logger } from "../../src/logger.js";
import type { Queue } from "../../src/queue/queue.js";
import { runWorker } from "../../src/worker/run-worker.js";
import { openTestQueue, otherBuildsQueue } from "../queue/helpers.js";

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

function capturingLogger(): Logger & { warnings: string[] } {
  const warnings: string[] = [];
  const record = (message: string): void => {
    warnings.push(message);
  };
  return { warnings, warn: record, error: record };
}

describe("runWorker with the other build's errors", () => {
  it("a queue closed under the worker ends it normally (CLOSED by code)", async () => {
    const { queue } = await openTestQueue();
    await queue.enqueueBatch(
      "q",
      Array.from({ length: 50 }, (_, i) => String(i)),
    );
    const logger = capturingLogger();
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
  });
});
