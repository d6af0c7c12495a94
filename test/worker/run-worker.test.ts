import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ManualClock } from "../../src/clock.js";
import { InvalidArgumentError } from "../../src/errors.js";
import { silentLogger } from "../../src/logger.js";
import { MAX_MESSAGE_BYTES } from "../../src/queue/limits.js";
import type { OpenOptions } from "../../src/queue/options.js";
import type { Queue } from "../../src/queue/queue.js";
import type { Claim } from "../../src/queue/types.js";
import { MemoryStore } from "../../src/store/memory.js";
import type { ObjectStore } from "../../src/store/types.js";
import { FaultStore } from "../../src/store/wrappers/fault.js";
import { PermanentFailure } from "../../src/worker/permanent-failure.js";
import { runWorker } from "../../src/worker/run-worker.js";
import {
  NO_BACKOFF,
  openTestQueue,
  otherBuildsQueue,
  rejection,
  turns,
  watch,
} from "../queue/helpers.js";
import { type RecordingLogger, recordingLogger } from "../recording-logger.js";
import { until } from "../until.js";
import { assertRanOnceCleanly, deferred, runWithLostClaim } from "./helpers.js";

/**
 * A worker of queue "q" at concurrency 1 holding `prefetch` claims ready, whose
 * first handler waits until `release()`; each later one calls `later`.
 */
function workerHoldingFirstJob(
  queue: Queue,
  prefetch: number,
  later: (shutdown: AbortController) => void = () => {},
) {
  const gates: (() => void)[] = [];
  const started: string[] = [];
  const shutdown = new AbortController();
  const worker = runWorker(
    queue,
    "q",
    async (job) => {
      started.push(Buffer.from(job.payload).toString());
      if (started.length === 1) await new Promise<void>((r) => gates.push(r));
      else later(shutdown);
    },
    { concurrency: 1, prefetch, logger: silentLogger, signal: shutdown.signal },
  );
  return {
    started,
    shutdown,
    worker,
    firstRunning: () => gates.length === 1,
    release: () => gates[0]!(),
  };
}

/**
 * A worker of queue "q" (`workerOptions`, a recording logger) runs one job
 * whose handler waits, watching its `ctx.signal`, while `during` runs; then
 * the handler returns a result (which keeps the done job and its history).
 * Asserts the job ran once, was never aborted, completed, and nothing was
 * logged as a warning or an error.
 */
async function whileHandlerRuns(
  open: OpenOptions,
  workerOptions: { leaseMs?: number },
  during: (queue: Queue, clock: ManualClock, id: string) => Promise<void>,
): Promise<void> {
  const { queue, clock } = await openTestQueue(open);
  const id = await queue.enqueue("q", "long");
  const started = deferred();
  const release = deferred();
  const logger = recordingLogger();
  let calls = 0;
  let aborted = false;
  const shutdown = new AbortController();
  const worker = runWorker(
    queue,
    "q",
    async (_job, ctx) => {
      calls++;
      ctx.signal.addEventListener("abort", () => {
        aborted = true;
      });
      started.resolve();
      await release.promise;
      return "ok";
    },
    { signal: shutdown.signal, logger, ...workerOptions },
  );
  try {
    await started.promise;
    await during(queue, clock, id);
    release.resolve();
    await until(async () => (await queue.stats("q")).done === 1);
    shutdown.abort();
    await worker;
    await assertRanOnceCleanly(queue, id, { calls, aborted }, logger);
  } finally {
    // A failed check above must not leave the handler waiting: the worker would never end.
    release.resolve();
    shutdown.abort();
    await worker.catch(() => {});
    await queue.close();
  }
}

/** Whether a logged field set would print a stack trace (it holds an Error). */
function holdsError(fields: unknown): boolean {
  return (
    typeof fields === "object" &&
    fields !== null &&
    Object.values(fields).some((v) => v instanceof Error)
  );
}

describe("runWorker", { timeout: 60_000 }, () => {
  it("drains the queue: every job acked, nothing left claimable", async () => {
    const { queue } = await openTestQueue();
    await queue.enqueueBatch("q", ["a", "b", "c", "d", "e"]);
    const seen: string[] = [];
    const shutdown = new AbortController();
    const worker = runWorker(
      queue,
      "q",
      (job) => {
        seen.push(Buffer.from(job.payload).toString());
      },
      { signal: shutdown.signal },
    );
    await until(async () => (await queue.stats("q")).done === 5);
    shutdown.abort();
    await worker;
    assert.deepEqual(seen, ["a", "b", "c", "d", "e"]);
    const stats = await queue.stats("q");
    assert.deepEqual([stats.pending, stats.claimed, stats.done], [0, 0, 5]);
    assert.equal(await queue.claim("q"), null);
    await queue.close();
  });

  it("PermanentFailure dead-letters on the first attempt with the reason", async () => {
    const { queue } = await openTestQueue();
    const id = await queue.enqueue("q", "x");
    const shutdown = new AbortController();
    const worker = runWorker(
      queue,
      "q",
      () => {
        throw new PermanentFailure("bad input");
      },
      { signal: shutdown.signal },
    );
    await until(async () => (await queue.stats("q")).dead === 1);
    shutdown.abort();
    await worker;
    const job = await queue.getJob(id);
    assert.equal(job?.status, "dead");
    assert.equal(job?.attempts, 1);
    assert.equal(job?.lastError, "bad input");
    await queue.close();
  });

  it("a thrown error nacks with its message; the job is retried until it succeeds", async () => {
    const { queue } = await openTestQueue(NO_BACKOFF);
    const id = await queue.enqueue("q", "x");
    const errors: Array<string | undefined> = [];
    const shutdown = new AbortController();
    const worker = runWorker(
      queue,
      "q",
      (job) => {
        errors.push(job.lastError);
        if (job.attempts < 3) throw new Error(`attempt ${job.attempts} failed`);
      },
      { signal: shutdown.signal },
    );
    await until(async () => (await queue.stats("q")).done === 1);
    shutdown.abort();
    await worker;
    assert.deepEqual(errors, [undefined, "attempt 1 failed", "attempt 2 failed"]);
    assert.equal(await queue.getJob(id), null);
    await queue.close();
  });

  it("a handler that throws a value every read of which throws (a revoked Proxy) fails its attempt; the loop goes on", async () => {
    const { queue } = await openTestQueue({ defaultQueueConfig: { maxAttempts: 1 } });
    const revoked = Proxy.revocable({}, {});
    revoked.revoke();
    const trapping = new Proxy(
      {},
      {
        get() {
          throw new Error("get trap");
        },
      },
    );
    const thrown: Record<string, unknown> = { revoked: revoked.proxy, trapping };
    const revokedId = await queue.enqueue("q", "revoked");
    const trappingId = await queue.enqueue("q", "trapping");
    const lastId = await queue.enqueue("q", "fine");
    const shutdown = new AbortController();
    const worker = runWorker(
      queue,
      "q",
      (job) => {
        const name = Buffer.from(job.payload).toString();
        if (name === "fine") shutdown.abort();
        else throw thrown[name];
      },
      { signal: shutdown.signal, logger: silentLogger },
    );
    await worker;
    for (const id of [revokedId, trappingId]) {
      const job = await queue.getJob(id);
      assert.equal(job?.status, "dead", "nacked, out of attempts");
      assert.equal(job.lastError, "[unprintable thrown value]");
    }
    assert.equal(await queue.getJob(lastId), null, "the next job ran and was acked");
    await queue.close();
  });
  it("shutdown stops claiming but lets the in-flight job finish and settle", async () => {
    const { queue } = await openTestQueue();
    await queue.enqueueBatch("q", ["first", "second"]);
    const started = deferred();
    const release = deferred();
    const shutdown = new AbortController();
    let finished = false;
    const worker = runWorker(
      queue,
      "q",
      async () => {
        started.resolve();
        await release.promise;
      },
      { signal: shutdown.signal, prefetch: 0 },
    ).then(() => {
      finished = true;
    });
    await started.promise;
    shutdown.abort();
    await new Promise((r) => setImmediate(r));
    assert.equal(finished, false, "waits for the in-flight job");
    release.resolve();
    await worker;
    const stats = await queue.stats("q");
    assert.deepEqual([stats.done, stats.claimed, stats.pending], [1, 0, 1]);
    await queue.close();
  });

  it("runs up to `concurrency` jobs at a time", async () => {
    const { queue } = await openTestQueue();
    await queue.enqueueBatch("q", ["1", "2", "3", "4", "5"]);
    let running = 0;
    let peak = 0;
    const gates: Array<() => void> = [];
    const shutdown = new AbortController();
    const worker = runWorker(
      queue,
      "q",
      async () => {
        running += 1;
        peak = Math.max(peak, running);
        await new Promise<void>((r) => gates.push(r));
        running -= 1;
      },
      { concurrency: 3, prefetch: 0, signal: shutdown.signal },
    );
    await until(() => gates.length === 3);
    assert.equal((await queue.stats("q")).claimed, 3);
    while ((await queue.stats("q")).done < 5) {
      gates.shift()?.();
      await new Promise((r) => setImmediate(r));
    }
    shutdown.abort();
    await worker;
    assert.equal(peak, 3);
    await queue.close();
  });

  /** A memory store each of whose writes takes `writeMs` on `clock` (it moves the clock on). */
  function slowWrites(clock: ManualClock, writeMs: number): ObjectStore {
    const inner = new MemoryStore();
    return {
      get: (key) => inner.get(key),
      put: async (key, body, options) => {
        await inner.put(key, body, options);
        clock.advance(writeMs);
      },
      delete: (key) => inner.delete(key),
      list: (prefix, options) => inner.list(prefix, options),
      describe: () => "memory (slow writes)",
    };
  }

  /** Records each claim batch the worker asks `queue` for: its size and how long it may wait for jobs. */
  function recordClaims(queue: Queue): Array<[max: number, waitMs: number | undefined]> {
    const asked: Array<[number, number | undefined]> = [];
    const claimBatch = queue.claimBatch.bind(queue);
    queue.claimBatch = (name, max, options) => {
      asked.push([max, options?.waitMs]);
      return claimBatch(name, max, options);
    };
    return asked;
  }

  for (const { prefetch, concurrency, handlerMs, batches, why } of [
    {
      prefetch: "auto" as const,
      concurrency: 4,
      handlerMs: 0,
      batches: [4, 4, 8, 8],
      why: "one ready claim per slot, once a write's round-trip was measured",
    },
    {
      prefetch: "auto" as const,
      concurrency: 4,
      handlerMs: 100,
      batches: [4, 4, 4, 4],
      why: "none: slots free far more slowly than a round-trip",
    },
    {
      prefetch: "auto" as const,
      concurrency: 1,
      handlerMs: 1,
      batches: [1, 1, 1, 1],
      why: "none for one slot alone: its frees are more than a write apart",
    },
    {
      prefetch: undefined,
      concurrency: 4,
      handlerMs: 0,
      batches: [4, 4, 4, 4],
      why: "the default holds none",
    },
  ])
    it(`prefetch ${prefetch ?? "by default"}, concurrency ${concurrency}, 10 ms writes, ${handlerMs} ms handlers: ${why}`, async () => {
      const clock = new ManualClock();
      const { queue } = await openTestQueue({}, slowWrites(clock, 10), clock);
      await queue.enqueueBatch(
        "q",
        Array.from({ length: 40 }, (_, i) => String(i)),
      );
      const asked = recordClaims(queue);
      const shutdown = new AbortController();
      const worker = runWorker(queue, "q", () => clock.advance(handlerMs), {
        concurrency,
        signal: shutdown.signal,
        ...(prefetch === undefined ? {} : { prefetch }),
      });
      await until(async () => (await queue.stats("q")).done === 40);
      assert.deepEqual(
        asked.slice(0, 4).map(([max]) => max),
        batches,
        why,
      );
      shutdown.abort();
      await worker;
      await queue.close();
    });

  it('prefetch "auto": claims held ready are released on shutdown, pending again, their attempt not counted', async () => {
    const clock = new ManualClock();
    const { queue } = await openTestQueue({}, slowWrites(clock, 10), clock);
    const ids = await queue.enqueueBatch("q", [
      "fast",
      "fast",
      "slow",
      "slow",
      "slow",
      "slow",
      "x",
      "x",
    ]);
    const gates: Array<() => void> = [];
    const shutdown = new AbortController();
    const worker = runWorker(
      queue,
      "q",
      async (job) => {
        if (Buffer.from(job.payload).toString() === "fast") return;
        await new Promise<void>((r) => gates.push(r));
      },
      { concurrency: 2, prefetch: "auto", signal: shutdown.signal },
    );
    // The two fast jobs freed their slots at once: 2 running, 2 held ready.
    await until(async () => gates.length === 2 && (await queue.stats("q")).claimed === 4);
    await turns(20);
    assert.equal((await queue.stats("q")).claimed, 4, "2 running + 2 ready, no more");
    shutdown.abort();
    for (const open of gates.splice(0)) open();
    await worker;
    const jobs = await Promise.all(ids.map((id) => queue.getJob(id)));
    assert.deepEqual(
      jobs.map((job) => job?.status ?? "acked and removed"),
      [...Array(4).fill("acked and removed"), ...["pending", "pending", "pending", "pending"]],
    );
    assert.deepEqual(
      jobs.slice(4).map((job) => job?.attempts),
      [0, 0, 0, 0],
      "the ready claims were given back without spending an attempt",
    );
    await queue.close();
  });

  it("a claim that asks for ready claims too never waits; after one came back short, a slot that frees asks for ready claims again", async () => {
    const { queue } = await openTestQueue();
    await queue.enqueue("q", "a");
    const asked = recordClaims(queue);
    const gates: Array<() => void> = [];
    const shutdown = new AbortController();
    const worker = runWorker(queue, "q", () => new Promise<void>((r) => gates.push(r)), {
      concurrency: 1,
      prefetch: 1,
      signal: shutdown.signal,
    });
    await until(() => gates.length === 1);
    await turns(20);
    assert.deepEqual(asked, [[2, 0]], "a claim for the slot and a ready claim, not waiting, short");
    await queue.enqueueBatch("q", ["b", "c"]);
    await turns(20);
    assert.equal(asked.length, 1, "nothing asked while the slot is busy after a short claim");
    gates.shift()?.();
    await until(() => gates.length === 1);
    await turns(20);
    assert.deepEqual(asked[1], [2, 0], "the freed slot asks for its next job and a ready one");
    assert.equal((await queue.stats("q")).claimed, 2, "b running, c held ready");
    // The queue empties: the next claim for the free slot alone waits for jobs, and jobs that
    // come then are claimed for the slot only, not for ready claims as well.
    gates.shift()?.();
    await until(() => gates.length === 1); // c runs
    gates.shift()?.();
    await until(() => asked.some(([max, waitMs]) => max === 1 && waitMs === 1_000));
    await queue.enqueueBatch("q", ["d", "e"]);
    await until(() => gates.length === 1);
    await turns(20);
    assert.equal((await queue.stats("q")).claimed, 1, "d running, e left pending");
    shutdown.abort();
    while (gates.length > 0) {
      gates.shift()?.();
      await turns();
    }
    await worker;
    await queue.close();
  });

  it("with every slot busy, claims for ready ones take what is there: a job that comes later is left for a free worker", async () => {
    const { queue, clock } = await openTestQueue();
    await queue.enqueue("q", "slow");
    const gates: Array<() => void> = [];
    const ran: string[] = [];
    const shutdown = new AbortController();
    const busy = runWorker(
      queue,
      "q",
      async (job) => {
        ran.push(`busy:${Buffer.from(job.payload).toString()}`);
        await new Promise<void>((r) => gates.push(r));
      },
      { concurrency: 1, prefetch: 2, signal: shutdown.signal },
    );
    await until(() => gates.length === 1);
    await turns(20);
    await queue.enqueue("q", "later");
    // Past the poll interval: a claim still waiting for jobs would have taken it by now.
    clock.advance(1_500);
    await turns(20);
    const stats = await queue.stats("q");
    assert.deepEqual(
      [stats.claimed, stats.pending],
      [1, 1],
      "the busy worker holds no ready claim of the job that came later",
    );
    const free = runWorker(
      queue,
      "q",
      (job) => {
        ran.push(`free:${Buffer.from(job.payload).toString()}`);
      },
      { concurrency: 1, signal: shutdown.signal },
    );
    await until(() => ran.includes("free:later"));
    gates.shift()?.();
    await until(async () => (await queue.stats("q")).done === 2);
    assert.deepEqual(ran, ["busy:slow", "free:later"]);
    shutdown.abort();
    await Promise.all([busy, free]);
    await queue.close();
  });

  it("holds `prefetch` claims ready beyond the running handlers, their leases renewed while they wait", async () => {
    const { queue, clock } = await openTestQueue({ reaperIntervalMs: 100 });
    const ids = await queue.enqueueBatch("q", ["1", "2", "3", "4", "5", "6"]);
    const asked = recordClaims(queue);
    const gates: Array<() => void> = [];
    const started: string[] = [];
    const logger = recordingLogger();
    const shutdown = new AbortController();
    const worker = runWorker(
      queue,
      "q",
      async (job) => {
        started.push(Buffer.from(job.payload).toString());
        await new Promise<void>((r) => gates.push(r));
      },
      { concurrency: 2, prefetch: 2, leaseMs: 1_000, logger, signal: shutdown.signal },
    );
    await until(async () => gates.length === 2 && (await queue.stats("q")).claimed === 4);
    await turns(20);
    assert.equal((await queue.stats("q")).claimed, 4, "2 running + 2 ready, no more");
    assert.deepEqual(started, ["1", "2"]);
    assert.deepEqual(
      asked.map(([max]) => max),
      [4],
      "one batch (one durable write) for the slots and the ready claims",
    );
    // Three leases pass with the reaper running: the ready claims must keep theirs.
    for (let elapsed = 0; elapsed < 3_000; elapsed += 50) {
      clock.advance(50);
      await turns(3);
    }
    for (const id of ids.slice(0, 4)) {
      const job = await queue.getJob(id);
      assert.equal(job?.status, "claimed", "a held claim was reaped");
      assert.equal(job?.attempts, 1);
      assert.ok(
        job.leaseExpiresAt! > clock.now(),
        "a held claim's lease is kept ahead of the clock",
      );
    }
    while ((await queue.stats("q")).done < 6) {
      gates.shift()?.();
      await turns();
    }
    assert.deepEqual(
      started,
      ["1", "2", "3", "4", "5", "6"],
      "each claim ran once, in claim order",
    );
    assert.deepEqual(logger.messages("warn", "error"), []);
    shutdown.abort();
    await worker;
    await queue.close();
  });

  it("a ready claim is renewed even with autoRenew off (no handler could renew it yet)", async () => {
    const { queue, clock } = await openTestQueue({ reaperIntervalMs: 100 });
    const [first, second] = await queue.enqueueBatch("q", ["1", "2"]);
    const gates: Array<() => void> = [];
    const logger = recordingLogger();
    const shutdown = new AbortController();
    const worker = runWorker(
      queue,
      "q",
      async () => {
        await new Promise<void>((r) => gates.push(r));
      },
      { prefetch: 1, leaseMs: 1_000, autoRenew: false, logger, signal: shutdown.signal },
    );
    await until(async () => gates.length === 1 && (await queue.stats("q")).claimed === 2);
    for (let elapsed = 0; elapsed < 3_000; elapsed += 50) {
      clock.advance(50);
      await turns(3);
    }
    assert.notEqual(
      (await queue.getJob(first!))?.status,
      "claimed",
      "the running one lost its lease",
    );
    const ready = await queue.getJob(second!);
    assert.deepEqual([ready?.status, ready?.attempts], ["claimed", 1]);
    assert.ok(ready!.leaseExpiresAt! > clock.now());
    shutdown.abort();
    gates.shift()!();
    await worker;
    assert.equal(logger.messages("warn", "error").length, 1, "the lost lease's ack is one line");
    const released = await queue.getJob(second!);
    assert.deepEqual([released?.status, released?.attempts], ["pending", 0]);
    await queue.close();
  });

  it("on shutdown no ready claim runs: each is released (pending, attempt given back) durably before the worker resolves", async () => {
    const { queue, store } = await openTestQueue();
    const ids = await queue.enqueueBatch("q", ["1", "2", "3", "4", "5", "6"]);
    const gates: Array<() => void> = [];
    const started: string[] = [];
    const logger = recordingLogger();
    const shutdown = new AbortController();
    let resolved = false;
    const worker = runWorker(
      queue,
      "q",
      async (job) => {
        started.push(Buffer.from(job.payload).toString());
        await new Promise<void>((r) => gates.push(r));
      },
      { concurrency: 2, prefetch: 2, logger, signal: shutdown.signal },
    ).then(() => {
      resolved = true;
    });
    await until(async () => gates.length === 2 && (await queue.stats("q")).claimed === 4);
    shutdown.abort();
    await turns(20);
    assert.equal(resolved, false, "running handlers are waited for");
    for (const gate of gates.splice(0)) gate();
    await worker;
    await turns(20);
    assert.deepEqual(started, ["1", "2"], "no handler started after shutdown, not even later");
    const stats = await queue.stats("q");
    assert.deepEqual([stats.done, stats.claimed, stats.pending], [2, 0, 4]);
    for (const id of ids.slice(2, 4)) {
      const job = await queue.getJob(id);
      assert.equal(job?.status, "pending");
      assert.equal(job?.attempts, 0, "the attempt of a claim that never ran is given back");
    }
    assert.deepEqual(logger.messages("warn", "error"), []);
    // Durable before the worker resolved: a crash now (no close, no flush) keeps it.
    const { queue: reopened } = await openTestQueue({}, store);
    const again = await reopened.stats("q");
    assert.deepEqual([again.done, again.claimed, again.pending], [2, 0, 4]);
    for (const id of ids.slice(2, 4)) {
      const job = await reopened.getJob(id);
      assert.deepEqual([job?.status, job?.attempts], ["pending", 0]);
    }
    const next = await reopened.claim("q");
    assert.equal(
      next && Buffer.from(next.payload).toString(),
      "3",
      "released jobs keep their place",
    );
    await reopened.close();
  });

  it("a prefetched claim whose job was cancelled while it waited ready never starts its handler", async () => {
    const { queue } = await openTestQueue({});
    const ids = await queue.enqueueBatch("q", ["1", "2", "3"]);
    const { started, worker, firstRunning, release } = workerHoldingFirstJob(queue, 1, (stop) =>
      stop.abort(),
    );
    await until(async () => firstRunning() && (await queue.stats("q")).claimed === 2);
    assert.equal((await queue.getJob(ids[1]!))?.status, "claimed", "held ready");
    assert.equal(await queue.cancel(ids[1]!), "requested");
    release();
    await worker;
    assert.deepEqual(started, ["1", "3"], "job 2 was cancelled before its handler could start");
    assert.equal(await queue.getJob(ids[1]!), null, "removed, as its cancellation asked");
    await queue.close();
  });

  it("claims held ready when their queue is paused are released, pending again, their attempts not counted", async () => {
    const { queue } = await openTestQueue({});
    const ids = await queue.enqueueBatch("q", ["1", "2", "3", "4"]);
    const { started, shutdown, worker, firstRunning, release } = workerHoldingFirstJob(queue, 2);
    await until(async () => firstRunning() && (await queue.stats("q")).claimed === 3);
    await queue.pauseQueue("q");
    release();
    await until(async () => (await queue.stats("q")).claimed === 0);
    await turns();
    assert.deepEqual(started, ["1"], "no handler starts on a paused queue's ready claims");
    for (const id of ids.slice(1)) {
      const job = await queue.getJob(id);
      assert.equal(job?.status, "pending", `${id} released`);
      assert.equal(job?.attempts, 0, `${id}: its attempt is not counted`);
    }
    await queue.resumeQueue("q");
    await until(() => started.length === 4);
    shutdown.abort();
    await worker;
    assert.deepEqual(started.slice(1).sort(), ["2", "3", "4"]);
    await queue.close();
  });

  it("a claim that lands after shutdown is released, never run", async () => {
    const faults = new FaultStore(new MemoryStore());
    const { queue } = await openTestQueue({}, faults);
    const id = await queue.enqueue("q", "late");
    const hold = faults.pause({ op: "put", keyPrefix: "q/wal/" });
    let calls = 0;
    const shutdown = new AbortController();
    const worker = runWorker(
      queue,
      "q",
      () => {
        calls++;
      },
      { prefetch: 0, signal: shutdown.signal },
    );
    await hold.whenHeld(); // the claim record is on its way
    shutdown.abort();
    await turns(20);
    hold.release();
    await worker;
    await turns(20);
    assert.equal(calls, 0);
    const job = await queue.getJob(id);
    assert.deepEqual([job?.status, job?.attempts], ["pending", 0]);
    await queue.close();
  });

  it("prefetched claims still ready when the queue closes are pending at the next open, never run", async () => {
    const { queue, store } = await openTestQueue();
    await queue.enqueueBatch("q", ["1", "2", "3"]);
    const release = deferred();
    const started: string[] = [];
    const worker = runWorker(
      queue,
      "q",
      async (job) => {
        started.push(Buffer.from(job.payload).toString());
        await release.promise;
      },
      { concurrency: 1, prefetch: 2, logger: silentLogger },
    );
    await until(async () => started.length === 1 && (await queue.stats("q")).claimed === 3);
    const closing = queue.close();
    release.resolve();
    await closing;
    await worker;
    await turns(20);
    assert.deepEqual(started, ["1"]);
    const { queue: reopened } = await openTestQueue({}, store);
    await reopened.flush();
    const stats = await reopened.stats("q");
    assert.equal(stats.claimed, 0);
    assert.equal(
      stats.pending,
      3,
      "the running one requeued as interrupted, the ready two given back",
    );
    await reopened.close();
  });

  it("a claim held ready whose handler never started costs its job no attempt at a clean close", async () => {
    const { queue, store } = await openTestQueue({ defaultQueueConfig: { maxAttempts: 1 } });
    const ids = await queue.enqueueBatch("q", ["1", "2"]);
    const release = deferred();
    const started: string[] = [];
    const worker = runWorker(
      queue,
      "q",
      async (job) => {
        started.push(Buffer.from(job.payload).toString());
        await release.promise;
      },
      { concurrency: 1, prefetch: 1, logger: silentLogger },
    );
    await until(async () => started.length === 1 && (await queue.stats("q")).claimed === 2);
    const closing = queue.close();
    release.resolve();
    await closing;
    await worker;
    assert.deepEqual(started, ["1"]);
    const { queue: reopened } = await openTestQueue(
      { defaultQueueConfig: { maxAttempts: 1 } },
      store,
    );
    const held = await reopened.getJob(ids[1]!);
    assert.deepEqual(
      [held?.status, held?.attempts],
      ["pending", 0],
      "the ready claim was given back",
    );
    assert.deepEqual(await reopened.attemptHistory(ids[1]!), []);
    const ran = await reopened.getJob(ids[0]!);
    assert.deepEqual([ran?.status, ran?.attempts], ["dead", 1], "the started one was interrupted");
    await reopened.close();
  });

  it("cancelling a claimed job aborts ctx.signal; the failed delivery removes the job", async () => {
    const { queue } = await openTestQueue(NO_BACKOFF);
    const id = await queue.enqueue("q", "x");
    const started = deferred();
    const shutdown = new AbortController();
    const worker = runWorker(
      queue,
      "q",
      async (_job, ctx) => {
        started.resolve();
        await new Promise((_, reject) =>
          ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason)),
        );
      },
      { signal: shutdown.signal },
    );
    await started.promise;
    assert.equal(await queue.cancel(id), "requested");
    await until(async () => (await queue.getJob(id)) === null);
    shutdown.abort();
    await worker;
    const stats = await queue.stats("q");
    assert.deepEqual([stats.pending, stats.claimed, stats.dead, stats.done], [0, 0, 0, 0]);
    await queue.close();
  });

  it("an ack that lost its claim is logged as one line (no stack) and the loop goes on", async () => {
    const logger = recordingLogger();
    assert.deepEqual(await runWithLostClaim(logger), ["slow#1", "slow#2"]);
    const lines = logger.at("warn", "error");
    assert.equal(lines.length, 1, lines.map((l) => l.message).join("\n"));
    assert.match(lines[0]!.message, /lost its claim/);
    assert.doesNotMatch(lines[0]!.message, /\n/);
    assert.equal(holdsError(lines[0]!.fields), false, "no stack trace for a lost claim");
  });

  it("a handler that settles its own job itself: the worker's settlement finds it settled and logs nothing", async () => {
    const { queue } = await openTestQueue(NO_BACKOFF);
    const ids = await queue.enqueueBatch("q", ["ack", "nack", "deadLetter", "release"]);
    const logger = recordingLogger();
    const shutdown = new AbortController();
    let handled = 0;
    const settledItself = new Set<string>();
    const worker = runWorker(
      queue,
      "q",
      async (job: Claim) => {
        const how = Buffer.from(job.payload).toString();
        const first = !settledItself.has(how);
        settledItself.add(how);
        if (first) {
          if (how === "ack") await queue.ack(job);
          else if (how === "nack") await queue.nack(job, "nacked by the handler");
          else if (how === "deadLetter") await queue.deadLetter(job, "dead by the handler");
          else await queue.release(job);
        }
        handled++;
        // The worker's own settlement of the nacked job fails as well: the error goes nowhere.
        if (how === "nack" && first) throw new Error("after its own nack");
      },
      { signal: shutdown.signal, logger },
    );
    // ack, nack (then its retry), deadLetter, release (then its run again).
    await until(() => handled === 6);
    shutdown.abort();
    await worker;
    assert.deepEqual(logger.messages("warn", "error"), [], "no line: nothing was lost");
    const [acked, nacked, dead] = await Promise.all(ids.slice(0, 3).map((id) => queue.getJob(id)));
    assert.equal(acked, null, "done and deleted, once");
    assert.equal(nacked, null, "retried once, then done");
    assert.equal(dead?.status, "dead");
    assert.equal(dead?.lastError, "dead by the handler");
    assert.equal((await queue.stats("q")).done, 3);
    await queue.close();
  });

  it("ctx.renewLease keeps a long job's claim alive through reaper passes", async () => {
    const { queue, clock } = await openTestQueue();
    const id = await queue.enqueue("q", "long");
    const renewed = deferred<number>();
    const release = deferred();
    const shutdown = new AbortController();
    const worker = runWorker(
      queue,
      "q",
      async (_job, ctx) => {
        renewed.resolve(await ctx.renewLease(60_000));
        await release.promise;
      },
      { signal: shutdown.signal, leaseMs: 1_000 },
    );
    assert.equal(await renewed.promise, clock.now() + 60_000);
    clock.advance(30_000);
    await queue.reapNow();
    assert.equal((await queue.getJob(id))?.status, "claimed");
    release.resolve();
    await until(async () => (await queue.stats("q")).done === 1);
    shutdown.abort();
    await worker;
    await queue.close();
  });

  it("renews the lease while a handler runs: a job running 3× its lease completes once", async () => {
    await whileHandlerRuns(
      { reaperIntervalMs: 100 },
      { leaseMs: 1_000 },
      async (queue, clock, id) => {
        for (let elapsed = 0; elapsed < 3_000; elapsed += 50) {
          clock.advance(50);
          for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
        }
        const job = await queue.getJob(id);
        assert.equal(job?.status, "claimed");
        assert.ok(job.leaseExpiresAt! > clock.now(), "the lease was renewed ahead of the clock");
      },
    );
  });

  // The renewal timer and the reaper fall due together after one step of the clock past the
  // lease (a stalled event loop does the same with the system clock): the handler still runs in
  // this process, so whichever timer fires first, its claim must not be reaped.
  for (const [name, open, workerLeaseMs, step] of [
    ["default options, one advance(31_000)", {}, undefined, 31_000],
    ["default options, one advance(60_000)", {}, undefined, 60_000],
    [
      "leaseMs 1 000 and reaperIntervalMs 100, one advance(5_000)",
      { reaperIntervalMs: 100 },
      1_000,
      5_000,
    ],
  ] as const)
    it(`a running handler keeps its claim through one clock step past its lease (${name})`, async () => {
      const options = workerLeaseMs === undefined ? {} : { leaseMs: workerLeaseMs };
      await whileHandlerRuns(open, options, async (queue, clock, id) => {
        clock.advance(step);
        await turns(10);
        await queue.reapNow(); // and an explicit pass after the periodic one: still kept
        const job = await queue.getJob(id);
        assert.equal(job?.status, "claimed", "the running handler's claim was reaped");
        assert.ok(job.leaseExpiresAt! > clock.now(), "the lease runs ahead of the clock again");
      });
    });

  // The handler's settlement is issued in the worker's next turn: a step of the clock after the
  // handler returned and before that turn (the system clock's timers phase can run such a step,
  // after the handler's continuation) must not reap the claim and run the job again.
  for (const [name, end, history] of [
    ["returns", () => "ok", ["completed"]],
    [
      "throws PermanentFailure",
      () => {
        throw new PermanentFailure("no");
      },
      ["dead_lettered"],
    ],
  ] as const)
    it(`a handler that ${name} keeps its claim through one clock step before its settlement is issued`, async () => {
      const { queue, clock } = await openTestQueue({ reaperIntervalMs: 100 });
      const id = await queue.enqueue("q", "x");
      const logger = recordingLogger();
      let calls = 0;
      const shutdown = new AbortController();
      const worker = runWorker(
        queue,
        "q",
        () => {
          calls++;
          // Runs after this synchronous handler returned, before the worker's next turn.
          if (calls === 1) process.nextTick(() => clock.advance(5_000));
          return end();
        },
        { signal: shutdown.signal, leaseMs: 1_000, logger },
      );
      await until(async () => (await queue.attemptHistory(id)).length > 0);
      await turns(10);
      shutdown.abort();
      await worker;
      assert.equal(calls, 1, "delivered once");
      assert.deepEqual(
        (await queue.attemptHistory(id)).map((attempt) => attempt.outcome),
        history,
      );
      assert.deepEqual(logger.messages("warn", "error"), []);
      await queue.close();
    });

  it("a claim held ready keeps its lease through one clock step past it; a handler without autoRenew loses its own", async () => {
    const { queue, clock } = await openTestQueue({ reaperIntervalMs: 100 });
    const [running, ready] = await queue.enqueueBatch("q", ["running", "ready"]);
    const gates: Array<() => void> = [];
    const logger = recordingLogger();
    const shutdown = new AbortController();
    const worker = runWorker(
      queue,
      "q",
      async (job) => {
        if (job.attempts > 1) return; // the redelivery after the lost lease just completes
        await new Promise<void>((r) => gates.push(r));
      },
      { prefetch: 1, leaseMs: 1_000, autoRenew: false, logger, signal: shutdown.signal },
    );
    await until(async () => gates.length === 1 && (await queue.stats("q")).claimed === 2);
    clock.advance(5_000);
    await turns(10);
    const lost = await queue.getJob(running!);
    assert.notEqual(lost?.status, "claimed", "autoRenew off: the handler's own lease ran out");
    const held = await queue.getJob(ready!);
    assert.deepEqual([held?.status, held?.attempts], ["claimed", 1], "the ready claim was kept");
    while ((await queue.stats("q")).done < 2) {
      gates.shift()?.();
      await turns();
    }
    shutdown.abort();
    await worker;
    await queue.close();
  });

  it("a lease lost while the handler runs aborts ctx.signal", async () => {
    const { queue, clock } = await openTestQueue();
    await queue.enqueue("q", "stuck");
    const started = deferred();
    const reason = deferred<unknown>();
    const logger = recordingLogger();
    const shutdown = new AbortController();
    const worker = runWorker(
      queue,
      "q",
      async (job, ctx) => {
        if (job.attempts > 1) return; // the redelivery after the lost lease just completes
        ctx.signal.addEventListener("abort", () => reason.resolve(ctx.signal.reason));
        started.resolve();
        await new Promise((_, reject) => ctx.signal.addEventListener("abort", reject));
      },
      { signal: shutdown.signal, leaseMs: 1_000, logger, autoRenew: false },
    );
    await started.promise;
    clock.advance(1_000);
    await queue.reapNow();
    assert.equal(((await reason.promise) as { code?: string }).code, "CLAIM_LOST");
    await until(async () => (await queue.stats("q")).done === 1);
    shutdown.abort();
    await worker;
    assert.equal(logger.messages("warn", "error").length, 1);
    await queue.close();
  });

  it("cuts a handler's long error message to the limit instead of failing the nack", async () => {
    const { queue } = await openTestQueue({ defaultQueueConfig: { maxAttempts: 1 } });
    const id = await queue.enqueue("q", "x");
    const shutdown = new AbortController();
    const worker = runWorker(
      queue,
      "q",
      () => {
        throw new Error("é".repeat(100_000));
      },
      { signal: shutdown.signal, logger: silentLogger },
    );
    for (let i = 0; i < 1_000 && (await queue.getJob(id))?.status !== "dead"; i++)
      await new Promise((resolve) => setImmediate(resolve));
    shutdown.abort();
    await worker;
    const job = await queue.getJob(id);
    assert.equal(job?.status, "dead");
    assert.ok(Buffer.byteLength(job.lastError!) <= MAX_MESSAGE_BYTES);
    assert.ok(job.lastError!.endsWith("é…"), "cut between characters, marked with an ellipsis");
    await queue.close();
  });

  it("ends (resolves) when the queue is closed, though its claim was waiting", async () => {
    const { queue } = await openTestQueue();
    const handled: string[] = [];
    const worker = runWorker(queue, "q", (job) => void handled.push(job.id), {
      pollIntervalMs: 60_000,
    });
    await new Promise((r) => setImmediate(r));
    await queue.close();
    const outcome = await Promise.race([
      worker.then(
        () => "resolved",
        (error: unknown) => `rejected: ${String(error)}`,
      ),
      new Promise<string>((r) => setTimeout(r, 5_000, "still running").unref()),
    ]);
    assert.equal(outcome, "resolved");
    assert.deepEqual(handled, []);
  });

  /** The lines a fenced worker logged: exactly one, saying so. */
  function assertOneFenceLine(logger: RecordingLogger, queueName: string): string {
    const lines = logger.messages("warn", "error");
    assert.equal(lines.length, 1, lines.join("\n"));
    const line = lines[0]!;
    assert.match(
      line,
      new RegExp(
        `^worker: queue "${queueName}" stopped: another process opened the store \\(fenced\\)`,
      ),
    );
    return line;
  }

  it("idle, fenced through its own queue's write: resolves after one line; later calls reject", async () => {
    const { queue, store, clock } = await openTestQueue();
    const loggers = [recordingLogger(), recordingLogger()];
    const workers = ["q", "other"].map((name, i) =>
      runWorker(queue, name, () => {}, { pollIntervalMs: 60_000, logger: loggers[i]! }),
    );
    const { queue: successor } = await openTestQueue({}, store, clock);
    assert.equal((await rejection(queue.enqueue("q", "x"))).code, "FENCED");
    await Promise.all(workers); // both end, and the same way
    assertOneFenceLine(loggers[0]!, "q");
    assertOneFenceLine(loggers[1]!, "other");
    assert.equal(queue.closed, true);
    assert.equal((await rejection(queue.claim("q"))).code, "FENCED");
    assert.equal((await rejection(queue.stats("q"))).code, "FENCED");
    await successor.close();
  });

  it("busy when fenced: the handler finishes, its settlement fails and is not retried, it resolves", async () => {
    const { queue, store, clock } = await openTestQueue();
    await queue.enqueue("q", "job");
    const logger = recordingLogger();
    const gate = deferred();
    let runs = 0;
    const worker = runWorker(
      queue,
      "q",
      async () => {
        runs++;
        await gate.promise;
        return "result";
      },
      { pollIntervalMs: 60_000, logger },
    );
    await until(() => runs === 1, "the handler started");
    const { queue: successor } = await openTestQueue({}, store, clock);
    gate.resolve();
    await worker;
    assert.equal(runs, 1);
    assert.match(assertOneFenceLine(logger, "q"), /1 settlement\(s\) failed/);
    // The ack never landed: the new writer has the job back, its attempt kept.
    const [job] = (await successor.listJobs("q", "pending")).jobs;
    assert.equal(job?.attempts, 1);
    assert.equal(job?.result, undefined);
    assert.equal((await rejection(queue.enqueue("q", "x"))).code, "FENCED");
    await successor.close();
  });

  it("idle with heartbeatMs: the next beat sees the fence, claim waiters wake, the worker resolves", async () => {
    const { queue, store, clock } = await openTestQueue({ heartbeatMs: 1_000 });
    const logger = recordingLogger();
    const worker = runWorker(queue, "q", () => {}, { pollIntervalMs: 60_000, logger });
    const waiting = queue.claim("other", { waitMs: 60_000 });
    const { queue: successor } = await openTestQueue({}, store, clock);
    await turns();
    assert.equal(queue.closed, false, "nothing told it yet");
    clock.advance(1_000);
    await worker;
    assertOneFenceLine(logger, "q");
    assert.equal(await waiting, null);
    assert.equal(queue.closed, true);
    assert.equal((await rejection(queue.enqueue("q", "x"))).code, "FENCED");
    await successor.close();
  });

  it("fenced while sharing the queue's logger (the default): the fence is one line, the queue's", async () => {
    const logger = recordingLogger();
    const { queue, store, clock } = await openTestQueue({ logger });
    await queue.enqueue("q", "job");
    const gate = deferred();
    let runs = 0;
    const worker = runWorker(
      queue,
      "q",
      async () => {
        runs++;
        await gate.promise;
      },
      { pollIntervalMs: 60_000, logger },
    );
    await until(() => runs === 1, "the handler started");
    const { queue: successor } = await openTestQueue({}, store, clock);
    gate.resolve();
    await worker;
    const lines = logger.at("warn", "error").map(({ level, message }) => `${level} ${message}`);
    const debug = logger.messages("debug");
    assert.equal(lines.length, 1, lines.join("\n"));
    assert.match(lines[0]!, /^error queue closed after a log failure: /);
    // The worker's details are still there for a logger that keeps debug lines.
    assert.equal(debug.length, 1, debug.join("\n"));
    assert.match(debug[0]!, /^worker: queue "q" stopped: .*\(fenced\); 1 settlement\(s\) failed/);
    await successor.close();
  });

  it("rejects bad options before doing anything", async () => {
    const { queue } = await openTestQueue();
    await queue.enqueue("q", "x");
    for (const options of [
      { concurrency: 0 },
      { concurrency: 1.5 },
      { pollIntervalMs: -1 },
      { prefetch: -1 },
      { prefetch: "fast" as unknown as number },
      { autoRenew: "yes" as unknown as boolean },
    ]) {
      const error = await rejection(runWorker(queue, "q", () => {}, options));
      assert.equal(error.code, "INVALID_ARGUMENT");
    }
    assert.equal(
      (await rejection(runWorker(queue, "q", "nope" as unknown as () => void))).code,
      "INVALID_ARGUMENT",
    );
    assert.equal(
      (await rejection(runWorker(queue, "q", () => {}, { prefetch: "fast" as unknown as number })))
        .message,
      'Expected `options.prefetch` to be "auto" or an integer ≥ 0, got "fast"',
    );
    assert.equal((await queue.stats("q")).pending, 1);
    await queue.close();
  });

  it("rejects something other than a Queue with INVALID_ARGUMENT, not a TypeError", async () => {
    for (const notAQueue of [null, undefined, {}, "q"]) {
      const error = await rejection(runWorker(notAQueue as never, "q", () => {}));
      assert.ok(error instanceof InvalidArgumentError, String(error));
      assert.match(error.message, /^Expected `queue` to be a Queue/);
    }
  });

  it("rejects a logger without warn and error with INVALID_ARGUMENT, claiming nothing", async () => {
    const { queue } = await openTestQueue();
    await queue.enqueue("q", "x");
    for (const logger of [{}, { warn: "no", error() {} }, 5, null]) {
      // Stopped already: a logger let through would end the worker at once, not hang the test.
      const options = { logger: logger as never, signal: AbortSignal.abort() };
      const error = await rejection(runWorker(queue, "q", () => {}, options));
      assert.ok(error instanceof InvalidArgumentError, String(error));
      assert.match(error.message, /^Expected `options.logger` to be a Logger/);
    }
    assert.equal((await queue.stats("q")).pending, 1);
    await queue.close();
  });

  /** The hook a worker asks whether it may start a claim (see `queue/worker-hooks.ts`). */
  const CLAIM_STARTABLE = Symbol.for("taquba.claimStartable");
  for (const { kind, foreign, left } of [
    {
      kind: "hooks of another copy of the module, which cannot see the claim's lease",
      foreign: (own: Queue) => {
        const ask = (own as unknown as Record<symbol, (claim: Claim) => boolean>)[CLAIM_STARTABLE]!;
        // What a second copy of the package's modules sees of this copy's claim: the
        // fields, not the private brand. The queue's own release still takes it back.
        Object.defineProperty(own, CLAIM_STARTABLE, {
          value(this: Queue, claim: Claim) {
            return ask.call(this, structuredClone(claim));
          },
        });
      },
      left: "pending",
    },
    {
      kind: "a claim of another Queue",
      foreign: async (own: Queue, other: Queue) => {
        await other.enqueue("q", "other's");
        own.claimBatch = (name, max, options) => other.claimBatch(name, max, options);
      },
      left: "pending", // never claimed; the other queue's claim is left to its lease
    },
    {
      kind: "a look-alike without the queue's lease",
      foreign: (own: Queue) => {
        const claimBatch = own.claimBatch.bind(own);
        own.claimBatch = async (name, max, options) =>
          (await claimBatch(name, max, options)).map((claim) => structuredClone(claim));
      },
      left: "claimed", // the queue cannot take a look-alike back: left to its lease
    },
  ])
    it(`a claim that is not its queue's (${kind}) fails the worker at once with INVALID_ARGUMENT, no handler run`, async (t) => {
      const { queue } = await openTestQueue();
      const { queue: other } = await openTestQueue();
      const ids = await queue.enqueueBatch("q", ["1", "2", "3"]);
      await foreign(queue, other);
      const logger = recordingLogger();
      let handled = 0;
      let claims = 0;
      const shutdown = new AbortController();
      const claimBatch = queue.claimBatch;
      queue.claimBatch = (name, max, options) => {
        claims++;
        return claimBatch.call(queue, name, max, options);
      };
      const worker = runWorker(
        queue,
        "q",
        () => {
          handled++;
        },
        { concurrency: 2, prefetch: 2, logger, signal: shutdown.signal },
      );
      // Aborted only once the test is over: until then only the refusal ends the worker.
      t.after(() => shutdown.abort());
      await until(watch(worker).settled, "the worker ended", 5_000);
      const error = await rejection(worker);
      assert.ok(error instanceof InvalidArgumentError);
      assert.match(error.message, /^Expected `claim` to be a claim handed out by this queue, got /);
      assert.match(error.message, /two copies of taquba's modules/);
      assert.equal(handled, 0, "no handler ran");
      assert.equal(claims, 1, "it claimed once, not again and again");
      assert.deepEqual(logger.messages("warn", "error"), [], "the rejection says it all");
      for (const id of ids) assert.equal((await queue.getJob(id))?.status, left, id);
      await queue.close();
      await other.close();
    });

  it("works with a Queue of the other build (ESM vs CommonJS): the check is by shape, not instanceof", async () => {
    const { queue } = await openTestQueue();
    const shutdown = new AbortController();
    try {
      const id = await queue.enqueue("q", "x");
      const worker = runWorker(otherBuildsQueue(queue), "q", () => "ok", {
        signal: shutdown.signal,
      });
      // A worker that refused the queue rejects at once instead of leaving the wait hanging.
      const completion = await Promise.race([queue.waitForCompletion(id), worker]);
      shutdown.abort();
      await worker;
      assert.equal(completion?.status, "done");
    } finally {
      shutdown.abort();
      await queue.close();
    }
  });
});
