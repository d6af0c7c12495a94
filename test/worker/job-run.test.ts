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
import type { Claim } from "../../src/queue/types.js";
import { FileStore } from "../../src/store/file.js";
import { runWorker } from "../../src/worker/run-worker.js";
import type { JobContext } from "../../src/worker/types.js";
import { openTestQueue } from "../queue/helpers.js";

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
      const stop = new AbortController();
      let handled = 0;
      await runWorker(
        queue,
        "work",
        (job) => {
          if (++handled === cases.length) stop.abort();
          return cases[Number(text(job.payload))]!(job);
        },
        { concurrency: 4, signal: stop.signal, pollIntervalMs: 0, logger: silentLogger },
      );
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
