/**
 * A process can load both builds of the package (ESM and CommonJS): a handler
 * may throw the other build's `PermanentFailure`, a test may hand the other
 * build's `ManualClock` to a queue, and `runWorker` of one build may run on a
 * queue of the other. Each is recognised by a mark or a registered hook, not
 * by `instanceof`. The "other build" here is the same source evaluated again:
 * one module loaded under another URL, or a second copy of the whole compiled
 * package (every module, so its classes and private symbols are its own).
 */
import assert from "node:assert/strict";
import { cp, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";
import type * as clockModule from "../../src/clock.js";
import * as thisBuild from "../../src/index.js";
import { silentLogger } from "../../src/logger.js";
import { Queue } from "../../src/queue/queue.js";
import { CLAIM_TOKEN } from "../../src/queue/types.js";
import type * as failureModule from "../../src/worker/permanent-failure.js";
import { runWorker } from "../../src/worker/run-worker.js";
import { repoRoot } from "../nodes.js";
import { memoryAndFileStores, turns } from "../queue/helpers.js";
import { recordingLogger } from "../recording-logger.js";
import { until } from "../until.js";
import { assertRanOnceCleanly } from "./helpers.js";

const HOUR = 3_600_000;

/** `promise`, or a rejection if it has not settled within 2 s of real time. */
function soon<T>(promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error("still waiting after 2 s")), 2_000);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/** `module` evaluated once more, as the package's other build would be. */
async function otherBuildOf<T>(module: string): Promise<T> {
  return (await import(new URL(`${module}?other-build`, import.meta.url).href)) as T;
}

describe("the package's other build", { timeout: 20_000 }, () => {
  for (const [storeName, makeStore] of memoryAndFileStores("taquba-other-build-")) {
    it(`${storeName}: a PermanentFailure of the other build dead-letters at once`, async () => {
      const other = await otherBuildOf<typeof failureModule>(
        "../../src/worker/permanent-failure.js",
      );
      const queue = await Queue.open(await makeStore(), "q", {
        logger: silentLogger,
        flushIntervalMs: 0,
        defaultQueueConfig: { maxAttempts: 3, retryBackoffBaseMs: 0 },
      });
      const shutdown = new AbortController();
      try {
        const id = await queue.enqueue("q", "poison");
        const worker = runWorker(
          queue,
          "q",
          () => {
            throw new other.PermanentFailure("not this one");
          },
          { signal: shutdown.signal, pollIntervalMs: 10 },
        );
        const completion = await queue.waitForCompletion(id, { timeoutMs: 10_000 });
        shutdown.abort();
        await worker;
        assert.deepEqual(completion, { status: "dead", error: "not this one" });
        assert.deepEqual(
          (await queue.attemptHistory(id)).map((a) => a.outcome),
          ["dead_lettered"],
        );
      } finally {
        shutdown.abort();
        await queue.close();
      }
    });

    it(`${storeName}: a ManualClock of the other build moves the queue's timers`, async () => {
      const other = await otherBuildOf<typeof clockModule>("../../src/clock.js");
      const clock = new other.ManualClock(Date.parse("2027-01-01T00:00:00Z"));
      const queue = await Queue.open(await makeStore(), "q", {
        logger: silentLogger,
        flushIntervalMs: 0,
        clock,
      });
      try {
        const id = await queue.enqueue("q", "later", { delayMs: HOUR });
        const waiting = queue.claim("q", { waitMs: 2 * HOUR });
        await turns();
        clock.advance(HOUR);
        const claim = await soon(waiting);
        assert.equal(claim?.id, id, "the delayed job came due and woke the waiting claim");
        const none = queue.claim("empty", { waitMs: HOUR });
        await turns();
        clock.advance(HOUR);
        assert.equal(await soon(none), null, "the wait ended at its time-out");
      } finally {
        await queue.close();
      }
    });
  }
});

/**
 * A second copy of the whole compiled package, loaded as a module graph of its
 * own: its `Lease`, `Queue` and private symbols (`CLAIM_TOKEN`) are not this
 * build's, as with the ESM and CommonJS builds side by side.
 */
async function secondCopyOfPackage(): Promise<{ build: typeof thisBuild; dir: string }> {
  const dir = await mkdtemp(join(tmpdir(), "taquba-second-build-"));
  await cp(fileURLToPath(new URL("../../src/", import.meta.url)), join(dir, "src"), {
    recursive: true,
    filter: (source) => !source.endsWith(".map"),
  });
  await writeFile(join(dir, "package.json"), `${JSON.stringify({ type: "module" })}\n`);
  await symlink(join(repoRoot(), "node_modules"), join(dir, "node_modules"), "dir");
  const build = (await import(
    pathToFileURL(join(dir, "src", "index.js")).href
  )) as typeof thisBuild;
  return { build, dir };
}

describe("runWorker and a queue of different builds", { timeout: 20_000 }, () => {
  let second: typeof thisBuild;
  let secondDir = "";
  before(async () => {
    ({ build: second, dir: secondDir } = await secondCopyOfPackage());
  });
  after(async () => {
    if (secondDir !== "") await rm(secondDir, { recursive: true, force: true });
  });

  // The worker tells the queue which leases it renews; for a claim of the other build it
  // can only do that through the queue's hook. Without it the reaper would take the claim
  // back after one step of the clock past the lease and the job would run twice.
  for (const queueOf of ["the other build", "this build"] as const)
    it(`a queue of ${queueOf}: a running handler keeps its claim through one clock step past its lease`, async () => {
      const [queueBuild, workerBuild] =
        queueOf === "the other build" ? [second, thisBuild] : [thisBuild, second];
      const clock = new queueBuild.ManualClock(Date.parse("2027-01-01T00:00:00Z"));
      const queue = await queueBuild.Queue.open(new queueBuild.MemoryStore(), "q", {
        logger: silentLogger,
        flushIntervalMs: 0,
        reaperIntervalMs: 100,
        clock,
      });
      assert.equal(queue instanceof Queue, queueOf === "this build");
      const logger = recordingLogger();
      const shutdown = new AbortController();
      let calls = 0;
      let aborted = false;
      let ownToken: boolean | undefined;
      let release!: () => void;
      const released = new Promise<void>((resolve) => {
        release = resolve;
      });
      try {
        const id = await queue.enqueue("q", "long");
        const worker = workerBuild.runWorker(
          queue,
          "q",
          async (job, ctx) => {
            calls++;
            ownToken = CLAIM_TOKEN in job;
            ctx.signal.addEventListener("abort", () => {
              aborted = true;
            });
            await released;
            return "ok"; // a result keeps the done job and its history
          },
          { signal: shutdown.signal, leaseMs: 1_000, logger },
        );
        await until(() => calls === 1);
        assert.equal(ownToken, queueOf === "this build", "the claim is of the queue's build");
        clock.advance(5_000);
        await turns(10);
        await queue.reapNow();
        assert.equal(
          (await queue.getJob(id))?.status,
          "claimed",
          "the running handler's claim was reaped",
        );
        release();
        await until(async () => (await queue.stats("q")).done === 1);
        shutdown.abort();
        await worker;
        await assertRanOnceCleanly(queue, id, { calls, aborted }, logger);
      } finally {
        release();
        shutdown.abort();
        await queue.close();
      }
    });

  // Each build guards the user's logger with a guard of its own: the worker still has to
  // see that the queue reports to the same logger, so the fence is the queue's one line.
  for (const queueOf of ["the other build", "this build"] as const)
    it(`a queue of ${queueOf}, fenced, with the worker's logger: the fence is one line, the queue's`, async () => {
      const [queueBuild, workerBuild] =
        queueOf === "the other build" ? [second, thisBuild] : [thisBuild, second];
      const logger = recordingLogger();
      const store = new queueBuild.MemoryStore();
      const queue = await queueBuild.Queue.open(store, "q", { logger, flushIntervalMs: 0 });
      let release!: () => void;
      const released = new Promise<void>((resolve) => {
        release = resolve;
      });
      let runs = 0;
      try {
        await queue.enqueue("q", "job");
        const worker = workerBuild.runWorker(
          queue,
          "q",
          async () => {
            runs++;
            await released;
          },
          { pollIntervalMs: 60_000, logger },
        );
        await until(() => runs === 1);
        const successor = await queueBuild.Queue.open(store, "q", {
          logger: silentLogger,
          flushIntervalMs: 0,
        });
        release();
        await soon(worker);
        await successor.close();
        const lines = logger.at("warn", "error").map(({ level, message }) => `${level} ${message}`);
        assert.equal(lines.length, 1, lines.join("\n"));
        assert.match(lines[0]!, /^error queue closed after a log failure: /);
        const debug = logger.messages("debug");
        assert.equal(debug.length, 1, debug.join("\n"));
        assert.match(
          debug[0]!,
          /^worker: queue "q" stopped: .*\(fenced\); 1 settlement\(s\) failed/,
        );
      } finally {
        release();
        await queue.close().catch(() => {});
      }
    });
});
