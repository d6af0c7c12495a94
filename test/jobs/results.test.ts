import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { ClosedError, type TaqubaError } from "../../src/errors.js";
import { silentLogger } from "../../src/logger.js";
import { Queue } from "../../src/queue/queue.js";
import { QueueReader } from "../../src/queue/reader.js";
import type { Completion } from "../../src/queue/types.js";
import { FileStore } from "../../src/store/file.js";
import type { ObjectStore } from "../../src/store/types.js";
import { CountingStore } from "../../src/store/wrappers/counting.js";
import { runWorker } from "../../src/worker/run-worker.js";
import { runAndKill } from "./kill.js";
import { openOn, STORES, tempDir, text, turns } from "./stores.js";

const DAY = 86_400_000;

async function rejection(promise: Promise<unknown>): Promise<TaqubaError> {
  try {
    await promise;
  } catch (error) {
    return error as TaqubaError;
  }
  assert.fail("expected a rejection");
}

/** Whether `promise` settled within a few turns of the event loop. */
async function settledSoon<T>(promise: Promise<T>): Promise<{ value: T } | null> {
  let outcome: { value: T } | null = null;
  promise.then((value) => {
    outcome = { value };
  });
  await turns(10);
  return outcome;
}

for (const kind of STORES) {
  describe(`job results on ${kind.name}`, { timeout: 60_000 }, () => {
    it("ack(claim, { result }) keeps the done job with its result for resultRetentionMs, even when done jobs are not kept", async () => {
      const { queue, clock } = await openOn(kind);
      const id = await queue.enqueue("work", "in");
      const plain = await queue.enqueue("work", "no result");
      const claim = await queue.claim("work");
      assert.equal(claim?.id, id);
      await queue.ack(claim!, { result: "out" });
      const other = await queue.claim("work");
      await queue.ack(other!);

      const job = await queue.getJob(id);
      assert.equal(job?.status, "done");
      assert.equal(text(job?.result), "out");
      assert.equal(job?.completedAt, clock.now());
      assert.equal(await queue.getJob(plain), null, "no result, done jobs not kept: deleted");
      assert.deepEqual(await queue.stats("work"), {
        queue: "work",
        pending: 0,
        claimed: 0,
        done: 2,
        dead: 0,
        scheduled: 0,
        paused: false,
      });

      clock.advance(DAY - 1);
      await queue.reapNow();
      assert.equal(text((await queue.getJob(id))?.result), "out", "kept for 24 h");
      clock.advance(2);
      await queue.reapNow();
      assert.equal(await queue.getJob(id), null, "gone after 24 h");
      assert.deepEqual(await queue.waitForCompletion(id), { status: "not_found" });
      await queue.close();
    });

    it("the handler's return value becomes the result: bytes and strings as they are, other values as JSON", async () => {
      const { queue } = await openOn(kind);
      const values: unknown[] = [
        new Uint8Array([0, 255, 1]),
        "plain text",
        { total: 3, items: ["a"] },
        42,
        null,
        undefined,
      ];
      const ids = await queue.enqueueBatch(
        "work",
        values.map((_, i) => String(i)),
      );
      const stop = new AbortController();
      let handled = 0;
      await runWorker(
        queue,
        "work",
        (job) => {
          if (++handled === values.length) stop.abort();
          return values[Number(text(job.payload))];
        },
        { signal: stop.signal, pollIntervalMs: 0, logger: silentLogger },
      );
      const results = await Promise.all(ids.map(async (id) => (await queue.getJob(id))?.result));
      assert.deepEqual(results[0], Buffer.from([0, 255, 1]));
      assert.equal(text(results[1]), "plain text");
      assert.equal(text(results[2]), '{"total":3,"items":["a"]}');
      assert.equal(text(results[3]), "42");
      assert.equal(text(results[4]), "null");
      assert.equal(results[5], undefined);
      assert.equal(await queue.getJob(ids[5]!), null, "no result: deleted like any ack");
      await queue.close();
    });

    it("returned bytes are the result as they were at the return, though their buffer is reused after it", async () => {
      const { queue } = await openOn(kind);
      const ids = await queue.enqueueBatch("work", ["first", "second"]);
      // One scratch buffer for every job, as a handler encoding into a reused buffer has.
      const scratch = new Uint8Array(16);
      const stop = new AbortController();
      let handled = 0;
      await runWorker(
        queue,
        "work",
        (job) => {
          if (++handled === 2) stop.abort();
          scratch.fill(0).set(job.payload);
          return scratch.subarray(0, job.payload.byteLength);
        },
        // Both run in one turn: the first returned before the second reused the buffer.
        { signal: stop.signal, concurrency: 2, pollIntervalMs: 0, logger: silentLogger },
      );
      const results = await Promise.all(ids.map(async (id) => (await queue.getJob(id))?.result));
      assert.deepEqual(results.map(text), ["first", "second"]);
      await queue.close();
    });

    it("a return value JSON cannot hold fails the attempt instead of losing the result", async () => {
      const { queue } = await openOn(kind, { defaultQueueConfig: { maxAttempts: 1 } });
      const id = await queue.enqueue("work", "x");
      const stop = new AbortController();
      await runWorker(
        queue,
        "work",
        () => {
          stop.abort();
          return { big: 1n };
        },
        { signal: stop.signal, pollIntervalMs: 0, logger: silentLogger },
      );
      const job = await queue.getJob(id);
      assert.equal(job?.status, "dead");
      assert.match(job?.lastError ?? "", /cannot be stored as its result/);
      await queue.close();
    });

    it("a return value too large for a result fails the attempt at once, not when its lease runs out", async () => {
      const { queue } = await openOn(kind, {
        maxPayloadBytes: 1_024,
        defaultQueueConfig: { maxAttempts: 1 },
      });
      const id = await queue.enqueue("work", "x");
      const stop = new AbortController();
      await runWorker(
        queue,
        "work",
        () => {
          stop.abort();
          return "r".repeat(2_000);
        },
        { signal: stop.signal, pollIntervalMs: 0, logger: silentLogger },
      );
      const job = await queue.getJob(id);
      assert.equal(job?.status, "dead", "not left claimed until its lease expires");
      assert.match(job?.lastError ?? "", /cannot be stored as its result: .*at most 1024 bytes/);
      await queue.close();
    });

    it("with keepDoneJobsMs set, a result is kept for the longer of keepDoneJobsMs and resultRetentionMs", async () => {
      const { queue, clock } = await openOn(kind, {
        defaultQueueConfig: { keepDoneJobsMs: 1_000, resultRetentionMs: 50_000 },
      });
      const id = await queue.enqueue("work", "x");
      await queue.ack((await queue.claim("work"))!, { result: "r" });
      clock.advance(1_001);
      await queue.reapNow();
      assert.equal(text((await queue.getJob(id))?.result), "r", "past keepDoneJobsMs");
      clock.advance(50_000 - 1_001);
      await queue.reapNow();
      assert.equal(text((await queue.getJob(id))?.result), "r");
      clock.advance(1);
      await queue.reapNow();
      assert.equal(await queue.getJob(id), null);
      await queue.close();
    });

    it("results survive a clean reopen (checkpoint) and a reopen without close (WAL replay), and readers see them", async () => {
      const { queue, reopen, store } = await openOn(kind);
      const id = await queue.enqueue("work", "x");
      await queue.ack((await queue.claim("work"))!, { result: new Uint8Array([1, 2, 3]) });
      // Not closed: the next writer replays the WAL.
      const second = await reopen();
      assert.deepEqual((await second.getJob(id))?.result, Buffer.from([1, 2, 3]));
      await second.close();
      const third = await reopen();
      assert.deepEqual((await third.getJob(id))?.result, Buffer.from([1, 2, 3]));
      assert.deepEqual(await third.waitForCompletion(id), {
        status: "done",
        result: Buffer.from([1, 2, 3]),
      });
      const reader = await QueueReader.open(store, "q");
      assert.deepEqual(reader.getJob(id)?.result, Buffer.from([1, 2, 3]));
      await third.close();
      await queue.close().catch(() => {});
    });

    it("bad results and bad wait options are typed errors that change nothing", async () => {
      const { queue } = await openOn(kind, { maxPayloadBytes: 8 });
      const id = await queue.enqueue("work", "x");
      const claim = await queue.claim("work");
      for (const [options, pattern] of [
        [{ result: 5 }, /Expected `options\.result` to be a Uint8Array or a string, got 5/],
        [{ result: "123456789" }, /Expected `options\.result` to be at most 8 bytes/],
        ["nope", /Expected `options` to be/],
      ] as const) {
        const error = await rejection(queue.ack(claim!, options as never));
        assert.equal(error.code, "INVALID_ARGUMENT");
        assert.match(error.message, pattern);
      }
      assert.equal((await queue.getJob(id))?.status, "claimed", "the claim is still live");
      await queue.ack(claim!, { result: "ok" });
      for (const [options, pattern] of [
        [{ timeoutMs: -1 }, /Expected `options\.timeoutMs` to be a non-negative integer/],
        [{ signal: "x" }, /Expected `options\.signal` to be/],
      ] as const) {
        const error = await rejection(queue.waitForCompletion(id, options as never));
        assert.equal(error.code, "INVALID_ARGUMENT");
        assert.match(error.message, pattern);
      }
      const badId = await rejection(queue.waitForCompletion(7 as never));
      assert.equal(badId.code, "INVALID_ARGUMENT");
      await queue.close();
    });
  });

  describe(`waitForCompletion on ${kind.name}`, { timeout: 60_000 }, () => {
    it("resolves on ack (with the result), dead-letter (with the error) and cancel, once durable", async () => {
      const { queue } = await openOn(kind);
      const [a, b, c, d] = await queue.enqueueBatch("work", ["a", "b", "c", "d"]);
      const waits = [a, b, c, d].map((id) => queue.waitForCompletion(id!));
      const twice = queue.waitForCompletion(a!);
      assert.equal(await settledSoon(waits[0]!), null, "nothing happened yet");
      await queue.ack((await queue.claim("work"))!, { result: "ra" });
      await queue.deadLetter((await queue.claim("work"))!, "broken");
      assert.equal(await queue.cancel(c!), "removed");
      const claimD = await queue.claim("work");
      await queue.ack(claimD!);
      assert.deepEqual(await waits[0], { status: "done", result: Buffer.from("ra") });
      assert.deepEqual(await twice, { status: "done", result: Buffer.from("ra") });
      assert.deepEqual(await waits[1], { status: "dead", error: "broken" });
      assert.deepEqual(await waits[2], { status: "cancelled" });
      assert.deepEqual(await waits[3], { status: "done" });
      await queue.close();
    });

    it("takes a caller's jobId as well as the generated id, also after a reopen; removeJobs reads as cancelled", async () => {
      const { queue, reopen } = await openOn(kind, {
        defaultQueueConfig: { retryBackoffBaseMs: 0 },
      });
      const [mine] = await queue.enqueueMany("work", [
        { payload: "x", options: { jobId: "order-17" } },
        { payload: "y", options: { jobId: "order-18" } },
      ]);
      assert.deepEqual(mine, { id: "order-17", created: true });
      const waiting = queue.waitForCompletion("order-17");
      const removed = queue.waitForCompletion("order-18");
      const first = await queue.claim("work");
      assert.equal(first?.id, "order-17");
      assert.equal(await queue.removeJobs("work", "pending", {}), 1, "order-18 removed");
      await queue.nack(first!, "flaky");
      assert.deepEqual(await removed, { status: "cancelled" });
      await queue.ack((await queue.claim("work"))!, { result: "shipped" });
      assert.deepEqual(await waiting, { status: "done", result: Buffer.from("shipped") });
      assert.deepEqual(
        (await queue.attemptHistory("order-17")).map((a) => a.outcome),
        ["retried", "completed"],
      );
      assert.equal(text((await queue.getJob("order-17"))?.result), "shipped");
      await queue.close();
      const again = await reopen();
      assert.deepEqual(await again.waitForCompletion("order-17"), {
        status: "done",
        result: Buffer.from("shipped"),
      });
      assert.equal((await again.attemptHistory("order-17")).length, 2);
      await again.close();
    });

    it("answers at once for a job that already ended, not_found for unknown ids", async () => {
      const { queue } = await openOn(kind);
      const id = await queue.enqueue("work", "a");
      await queue.deadLetter((await queue.claim("work"))!, "no");
      assert.deepEqual(await queue.waitForCompletion(id, { timeoutMs: 0 }), {
        status: "dead",
        error: "no",
      });
      assert.deepEqual(await queue.waitForCompletion("01JDZZZZZZZZZZZZZZZZZZZZZZ"), {
        status: "not_found",
      });
      assert.deepEqual(await queue.waitForCompletion("not an id"), { status: "not_found" });
      await queue.close();
    });

    it("a retry or a cancel request does not end the wait; timeoutMs does, on the queue's clock", async () => {
      const { queue, clock } = await openOn(kind, {
        defaultQueueConfig: { retryBackoffBaseMs: 0 },
      });
      const id = await queue.enqueue("work", "a");
      const wait = queue.waitForCompletion(id, { timeoutMs: 5_000 });
      const claim = await queue.claim("work");
      await queue.nack(claim!, "again");
      const again = await queue.claim("work");
      assert.equal(await queue.cancel(id), "requested");
      assert.equal(await settledSoon(wait), null);
      clock.advance(4_999);
      assert.equal(await settledSoon(wait), null);
      clock.advance(1);
      assert.deepEqual(await wait, { status: "timeout" });
      // The claimed job's cancelled delivery ends it.
      const cancelled = queue.waitForCompletion(id);
      await queue.nack(again!, "stop");
      assert.deepEqual(await cancelled, { status: "cancelled" });
      await queue.close();
    });

    it("an aborted signal rejects with its reason; closing the queue rejects with ClosedError", async () => {
      const { queue } = await openOn(kind);
      const id = await queue.enqueue("work", "a");
      const controller = new AbortController();
      const aborted = queue.waitForCompletion(id, { signal: controller.signal });
      controller.abort(new Error("gave up"));
      await assert.rejects(aborted, /gave up/);
      await assert.rejects(
        queue.waitForCompletion(id, { signal: AbortSignal.abort(new Error("before")) }),
        /before/,
      );
      const pending = assert.rejects(queue.waitForCompletion(id), ClosedError);
      await queue.close();
      await pending;
    });

    it("a job whose end was logged before close answers it once the closing flush makes it durable", async () => {
      const { queue } = await openOn(kind, { flushIntervalMs: 5 });
      const [a, b, c, d] = await queue.enqueueBatch("work", ["a", "b", "c", "d"]);
      const waits = [a, b, c, d].map((id) =>
        queue.waitForCompletion(id!).then(
          (completion) => completion,
          (error: unknown) => error,
        ),
      );
      const [ca, cb] = await queue.claimBatch("work", 2);
      // Settled but not yet durable when close is called.
      const settled = [
        queue.ack(ca!, { result: "ra" }),
        queue.deadLetter(cb!, "broken"),
        queue.cancel(c!),
      ];
      await queue.close();
      await Promise.all(settled);
      assert.deepEqual(await waits[0], { status: "done", result: Buffer.from("ra") });
      assert.deepEqual(await waits[1], { status: "dead", error: "broken" });
      assert.deepEqual(await waits[2], { status: "cancelled" });
      assert.ok(
        (await waits[3]) instanceof ClosedError,
        "a job still pending: the queue closed first",
      );
    });

    it("works for a job enqueued before a restart, and reads nothing from the store while it waits", async () => {
      const inner = await kind.make();
      const store = new CountingStore(inner);
      const open = (s: ObjectStore) =>
        Queue.open(s, "q", { logger: silentLogger, flushIntervalMs: 0 });
      const first = await open(inner);
      const id = await first.enqueue("work", "before the restart");
      await first.close();
      const queue = await open(store);
      const wait = queue.waitForCompletion(id);
      const before = { ...store.counts };
      await new Promise((resolve) => setTimeout(resolve, 100));
      const during = { ...store.counts };
      assert.deepEqual(
        [during.get, during.list, during.put],
        [before.get, before.list, before.put],
        "an idle wait makes no store requests",
      );
      const claim = await queue.claim("work");
      await queue.ack(claim!, { result: "after" });
      assert.deepEqual(await wait, { status: "done", result: Buffer.from("after") });
      await queue.close();
    });
  });
}

describe("results and SIGKILL", { timeout: 120_000 }, () => {
  it("an acknowledged result, retry and dead-letter survive the process being killed", async () => {
    const dir = await tempDir();
    const lines = (await runAndKill(dir, "results", "the answer")) as {
      done: string;
      retried: string;
      dead: string;
    }[];
    const { done, retried, dead } = lines[0]!;
    const queue = await Queue.open(new FileStore(dir, { fsync: false }), "q", {
      logger: silentLogger,
    });
    assert.equal(text((await queue.getJob(done))?.result), "the answer");
    assert.equal(text((await queue.getJob(retried))?.result), "second try");
    assert.deepEqual(
      (await queue.attemptHistory(retried)).map((e) => [e.attempt, e.outcome, e.error]),
      [
        [1, "retried", "flaky"],
        [2, "completed", undefined],
      ],
    );
    assert.deepEqual(await queue.waitForCompletion(dead), { status: "dead", error: "bad input" });
    const completions: Completion[] = await Promise.all(
      [done, retried].map((id) => queue.waitForCompletion(id)),
    );
    assert.deepEqual(
      completions.map((c) => c.status),
      ["done", "done"],
    );
    await queue.close();
  });
});

describe("waitForCompletion in a script", { timeout: 60_000 }, () => {
  it("a wait with a time-out holds the process open until it ends", async () => {
    const script = fileURLToPath(new URL("./fixtures/wait-completion.js", import.meta.url));
    const child = spawn(process.execPath, [script], { stdio: ["ignore", "pipe", "inherit"] });
    let stdout = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    const killer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    const code = await new Promise<number | null>((resolve, reject) => {
      child.on("error", reject);
      child.on("exit", resolve);
    });
    clearTimeout(killer);
    assert.deepEqual({ code, stdout }, { code: 0, stdout: "timeout\n" });
  });
});
