// The API contract's edges: what api-contract.test.ts shows for one call, shown here for every
// call it applies to. The error table's INVALID_ARGUMENT row (bad queue names, bad durations,
// non-integer priorities, oversized payloads) for each method and option that takes one;
// CLOSED for calls after close; the promised orders, cursors and "not found" answers; and the
// worker's documented handling of return values and throws. Each check collects its
// mismatches and reports them all at once, so one run lists every call that breaks a promise.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  type Claim,
  DuplicateJobIdError,
  type EnqueueOptions,
  InvalidArgumentError,
  type JobRecord,
  ManualClock,
  MemoryStore,
  type OpenOptions,
  PermanentFailure,
  PRIORITY_HIGH,
  PRIORITY_LOW,
  Queue,
  runWorker,
  silentLogger,
  TaqubaError,
} from "../../src/index.js";

const START = 1_700_000_000_000;
const text = (bytes: Uint8Array | undefined): string => Buffer.from(bytes ?? []).toString();

async function open(
  options: OpenOptions = {},
  store = new MemoryStore(),
): Promise<{ queue: Queue; clock: ManualClock }> {
  const clock = new ManualClock(START);
  const queue = await Queue.open(store, "app", { clock, logger: silentLogger, ...options });
  return { queue, clock };
}

/**
 * Runs each probe and returns the labels of those whose call did not reject with a TaqubaError
 * of `code` (and of `kind` when given), each with what happened instead.
 */
async function mismatches(
  code: string,
  probes: [string, () => unknown][],
  kind?: abstract new (...args: never[]) => Error,
): Promise<string[]> {
  const wrong: string[] = [];
  for (const [label, call] of probes) {
    let outcome: string;
    try {
      const value = call();
      // A documented async method must answer with a promise, not throw synchronously.
      if (!(value instanceof Promise)) {
        wrong.push(`${label}: returned ${String(value)} instead of a rejected promise`);
        continue;
      }
      try {
        await value;
        outcome = "resolved";
      } catch (error) {
        if (
          error instanceof TaqubaError &&
          error.code === code &&
          (kind === undefined || error instanceof kind)
        )
          continue;
        outcome = `rejected with ${(error as Error)?.constructor?.name} ${(error as TaqubaError)?.code}: ${(error as Error)?.message}`;
      }
    } catch (error) {
      outcome = `threw synchronously ${(error as Error)?.constructor?.name} ${(error as TaqubaError)?.code}`;
    }
    wrong.push(`${label}: ${outcome}`);
  }
  return wrong;
}

function assertNone(wrong: string[]): void {
  assert.deepEqual(wrong, [], `\n${wrong.join("\n")}`);
}

describe("the API contract's edges", { timeout: 120_000 }, () => {
  it("INVALID_ARGUMENT: bad options of Queue.open", async () => {
    const store = new MemoryStore();
    const opening = (options: OpenOptions) => (): Promise<Queue> =>
      Queue.open(store, "app", { logger: silentLogger, ...options });
    const bad: [string, OpenOptions][] = [
      ["reaperIntervalMs -1", { reaperIntervalMs: -1 }],
      ["reaperIntervalMs NaN", { reaperIntervalMs: Number.NaN }],
      ["schedulerIntervalMs -1", { schedulerIntervalMs: -1 }],
      ["schedulerIntervalMs Infinity", { schedulerIntervalMs: Number.POSITIVE_INFINITY }],
      ["flushIntervalMs -1", { flushIntervalMs: -1 }],
      ["flushIntervalMs NaN", { flushIntervalMs: Number.NaN }],
      ["heartbeatMs -1", { heartbeatMs: -1 }],
      ["payloadOffloadBytes -1", { payloadOffloadBytes: -1 }],
      ["defaultQueueConfig.leaseMs -1", { defaultQueueConfig: { leaseMs: -1 } }],
      ["defaultQueueConfig.leaseMs NaN", { defaultQueueConfig: { leaseMs: Number.NaN } }],
      ["defaultQueueConfig.maxAttempts 0", { defaultQueueConfig: { maxAttempts: 0 } }],
      ["defaultQueueConfig.defaultPriority 1.5", { defaultQueueConfig: { defaultPriority: 1.5 } }],
      [
        "defaultQueueConfig.retryBackoffBaseMs -1",
        { defaultQueueConfig: { retryBackoffBaseMs: -1 } },
      ],
      [
        "defaultQueueConfig.retryBackoffMaxMs Infinity",
        { defaultQueueConfig: { retryBackoffMaxMs: Number.POSITIVE_INFINITY } },
      ],
      ["defaultQueueConfig.keepDoneJobsMs -1", { defaultQueueConfig: { keepDoneJobsMs: -1 } }],
      [
        "defaultQueueConfig.deadRetentionMs NaN",
        { defaultQueueConfig: { deadRetentionMs: Number.NaN } },
      ],
      [
        "defaultQueueConfig.resultRetentionMs -1",
        { defaultQueueConfig: { resultRetentionMs: -1 } },
      ],
      [
        "defaultQueueConfig.rateLimit.perMs -1",
        { defaultQueueConfig: { rateLimit: { max: 1, perMs: -1 } } },
      ],
      ["defaultQueueConfig.groupConcurrency 0", { defaultQueueConfig: { groupConcurrency: 0 } }],
      ["queueConfigs.q.leaseMs -1", { queueConfigs: { q: { leaseMs: -1 } } }],
      [
        "queueConfigs.q.retryBackoffBaseMs NaN",
        { queueConfigs: { q: { retryBackoffBaseMs: Number.NaN } } },
      ],
      ["queueConfigs.q.defaultPriority 0.5", { queueConfigs: { q: { defaultPriority: 0.5 } } }],
      ["queueConfigs bad queue name", { queueConfigs: { "": { leaseMs: 1_000 } } }],
    ];
    const wrong = await mismatches(
      "INVALID_ARGUMENT",
      bad.map(([label, options]) => [label, opening(options)]),
      InvalidArgumentError,
    );
    assertNone(wrong);
  });

  it("INVALID_ARGUMENT: bad queue names, durations, priorities and payloads on every call", async () => {
    const { queue } = await open({ maxPayloadBytes: 16 });
    await queue.enqueue("live", "x");
    const claim = (await queue.claim("live"))!;
    assert.ok(claim !== null);
    await queue.enqueue("other", "x");
    const long = "é".repeat(128); // 256 UTF-8 bytes
    const big = "x".repeat(17);
    const opts = (o: EnqueueOptions): EnqueueOptions => o;
    const probes: [string, () => unknown][] = [];
    for (const [what, name] of [
      ["empty", ""],
      ["256-byte", long],
    ] as const) {
      probes.push(
        [`enqueue ${what}`, () => queue.enqueue(name, "x")],
        [`enqueueBatch ${what}`, () => queue.enqueueBatch(name, ["x"])],
        [`enqueueMany ${what}`, () => queue.enqueueMany(name, [{ payload: "x" }])],
        [`claim ${what}`, () => queue.claim(name)],
        [`claimBatch ${what}`, () => queue.claimBatch(name, 1)],
        [`stats ${what}`, () => queue.stats(name)],
        [`deadJobs ${what}`, () => queue.deadJobs(name)],
        [`listJobs ${what}`, () => queue.listJobs(name, "pending")],
        [`pauseQueue ${what}`, () => queue.pauseQueue(name)],
        [`resumeQueue ${what}`, () => queue.resumeQueue(name)],
        [`removeJobs ${what}`, () => queue.removeJobs(name, "pending")],
        [`requeueDeadJobs ${what}`, () => queue.requeueDeadJobs(name)],
        [`transaction enqueue ${what}`, () => queue.transaction((tx) => tx.enqueue(name, "x"))],
        [`enqueueFlow ${what}`, () => queue.enqueueFlow({ queue: name, payload: "x" })],
        [
          `enqueueFlow child ${what}`,
          () =>
            queue.enqueueFlow({
              queue: "p",
              payload: "x",
              children: [{ queue: name, payload: "y" }],
            }),
        ],
        [
          `schedule queue ${what}`,
          () => queue.schedule("s", { everyMs: 1_000, queue: name, payload: "x" }),
        ],
        [`runWorker ${what}`, () => runWorker(queue, name, () => undefined)],
      );
    }
    const badDurations: [string, number][] = [
      ["-1", -1],
      ["NaN", Number.NaN],
      ["Infinity", Number.POSITIVE_INFINITY],
    ];
    for (const [what, ms] of badDurations) {
      probes.push(
        [`enqueue delayMs ${what}`, () => queue.enqueue("q", "x", { delayMs: ms })],
        [`enqueue timeoutMs ${what}`, () => queue.enqueue("q", "x", { timeoutMs: ms })],
        [`enqueue runAt ${what}`, () => queue.enqueue("q", "x", { runAt: ms })],
        [
          `enqueueMany delayMs ${what}`,
          () => queue.enqueueMany("q", [{ payload: "x", options: opts({ delayMs: ms }) }]),
        ],
        [
          `transaction enqueue delayMs ${what}`,
          () => queue.transaction((tx) => tx.enqueue("q", "x", { delayMs: ms })),
        ],
        [
          `enqueueFlow timeoutMs ${what}`,
          () => queue.enqueueFlow({ queue: "q", payload: "x", options: { timeoutMs: ms } }),
        ],
        [`claim leaseMs ${what}`, () => queue.claim("q", { leaseMs: ms })],
        [`claim waitMs ${what}`, () => queue.claim("q", { waitMs: ms })],
        [`claimBatch leaseMs ${what}`, () => queue.claimBatch("q", 1, { leaseMs: ms })],
        [`claimBatch waitMs ${what}`, () => queue.claimBatch("q", 1, { waitMs: ms })],
        [`renewLease ${what}`, () => queue.renewLease(claim, ms)],
        [
          `waitForCompletion timeoutMs ${what}`,
          () => queue.waitForCompletion("x", { timeoutMs: ms }),
        ],
        [
          `removeJobs olderThanMs ${what}`,
          () => queue.removeJobs("q", "dead", { olderThanMs: ms }),
        ],
        [
          `schedule everyMs ${what}`,
          () => queue.schedule("s", { everyMs: ms, queue: "q", payload: "x" }),
        ],
        [
          `schedule startAt ${what}`,
          () => queue.schedule("s", { everyMs: 1_000, startAt: ms, queue: "q", payload: "x" }),
        ],
        [
          `schedule options.delayMs ${what}`,
          () =>
            queue.schedule("s", {
              everyMs: 1_000,
              queue: "q",
              payload: "x",
              options: { delayMs: ms },
            }),
        ],
        [
          `runWorker pollIntervalMs ${what}`,
          () => runWorker(queue, "q", () => 1, { pollIntervalMs: ms }),
        ],
        [`runWorker leaseMs ${what}`, () => runWorker(queue, "q", () => 1, { leaseMs: ms })],
      );
    }
    for (const [what, priority] of [
      ["1.5", 1.5],
      ["NaN", Number.NaN],
      ["Infinity", Number.POSITIVE_INFINITY],
    ] as const) {
      probes.push(
        [`enqueue priority ${what}`, () => queue.enqueue("q", "x", { priority })],
        [
          `enqueueMany priority ${what}`,
          () => queue.enqueueMany("q", [{ payload: "x", options: { priority } }]),
        ],
        [
          `transaction enqueue priority ${what}`,
          () => queue.transaction((tx) => tx.enqueue("q", "x", { priority })),
        ],
        [
          `enqueueFlow priority ${what}`,
          () => queue.enqueueFlow({ queue: "q", payload: "x", options: { priority } }),
        ],
        [
          `schedule options.priority ${what}`,
          () =>
            queue.schedule("s", {
              everyMs: 1_000,
              queue: "q",
              payload: "x",
              options: { priority },
            }),
        ],
      );
    }
    probes.push(
      ["enqueueBatch oversized payload", () => queue.enqueueBatch("q", ["x", big])],
      ["enqueueMany oversized payload", () => queue.enqueueMany("q", [{ payload: big }])],
      ["transaction oversized payload", () => queue.transaction((tx) => tx.enqueue("q", big))],
      ["enqueueFlow oversized payload", () => queue.enqueueFlow({ queue: "q", payload: big })],
      [
        "schedule oversized payload",
        () => queue.schedule("s", { everyMs: 1_000, queue: "q", payload: big }),
      ],
      ["claimBatch max 1.5", () => queue.claimBatch("q", 1.5)],
      ["listJobs bad status", () => queue.listJobs("q", "bogus" as never)],
      ["listJobs limit 0", () => queue.listJobs("q", "pending", { limit: 0 })],
      ["listJobs limit 1001", () => queue.listJobs("q", "pending", { limit: 1_001 })],
      ["deadJobs limit -1", () => queue.deadJobs("q", { limit: -1 })],
      ["removeJobs claimed", () => queue.removeJobs("q", "claimed" as never)],
      ["removeJobs bogus", () => queue.removeJobs("q", "bogus" as never)],
      ["requeueDeadJobs limit -1", () => queue.requeueDeadJobs("q", { limit: -1 })],
      ["runWorker concurrency 0", () => runWorker(queue, "q", () => 1, { concurrency: 0 })],
      ["runWorker concurrency 1.5", () => runWorker(queue, "q", () => 1, { concurrency: 1.5 })],
      ["enqueue runAt and delayMs", () => queue.enqueue("q", "x", { runAt: START, delayMs: 1 })],
      [
        "enqueueMany runAt and delayMs",
        () => queue.enqueueMany("q", [{ payload: "x", options: { runAt: START, delayMs: 1 } }]),
      ],
      ["enqueue jobId empty", () => queue.enqueue("q", "x", { jobId: "" })],
      ["enqueue jobId with /", () => queue.enqueue("q", "x", { jobId: "a/b" })],
      ["enqueue jobId 129 chars", () => queue.enqueue("q", "x", { jobId: "a".repeat(129) })],
      ["kvScan limit 0", () => queue.kvScan("", { limit: 0 })],
      ["kvGet empty key", () => queue.kvGet("")],
      ["kvDelete empty key", () => queue.kvDelete("")],
      ["kvCompareAndSet empty key", () => queue.kvCompareAndSet("", null, "v")],
      [
        "kvCompareAndSet big value",
        () => queue.kvCompareAndSet("k", null, new Uint8Array(262_145)),
      ],
      ["transaction kvPut empty key", () => queue.transaction((tx) => tx.kvPut("", "v"))],
    );
    const wrong = await mismatches("INVALID_ARGUMENT", probes, InvalidArgumentError);
    // Nothing of the refused calls landed.
    assert.equal((await queue.stats("q")).pending, 0, "a refused call enqueued");
    assert.deepEqual(await queue.listSchedules(), [], "a refused schedule was stored");
    await queue.close();
    assertNone(wrong);
  });

  it("CLOSED: every call after close", async () => {
    const { queue } = await open();
    await queue.enqueue("q", "x");
    const id = await queue.enqueue("q", "y");
    await queue.close();
    const probes: [string, () => unknown][] = [
      ["enqueue", () => queue.enqueue("q", "x")],
      ["enqueueBatch", () => queue.enqueueBatch("q", ["x"])],
      ["enqueueMany", () => queue.enqueueMany("q", [{ payload: "x" }])],
      ["claim", () => queue.claim("q")],
      ["claimBatch", () => queue.claimBatch("q", 2)],
      ["getJob", () => queue.getJob(id)],
      ["cancel", () => queue.cancel("01UNKNOWN")],
      ["stats", () => queue.stats("q")],
      ["listQueues", () => queue.listQueues()],
      ["deadJobs", () => queue.deadJobs("q")],
      ["requeueDeadJob", () => queue.requeueDeadJob(id)],
      ["promoteScheduledNow", () => queue.promoteScheduledNow()],
      ["reapNow", () => queue.reapNow()],
      ["flush", () => queue.flush()],
      ["waitForCompletion", () => queue.waitForCompletion(id)],
      ["listJobs", () => queue.listJobs("q", "pending")],
      ["attemptHistory", () => queue.attemptHistory(id)],
      ["wakeScheduled", () => queue.wakeScheduled(id)],
      ["pauseQueue", () => queue.pauseQueue("q")],
      ["resumeQueue", () => queue.resumeQueue("q")],
      ["removeJobs", () => queue.removeJobs("q", "pending")],
      ["requeueDeadJobs", () => queue.requeueDeadJobs("q")],
      ["transaction", () => queue.transaction((tx) => tx.kvPut("k", "v"))],
      ["kvGet", () => queue.kvGet("k")],
      ["kvPut", () => queue.kvPut("k", "v")],
      ["kvDelete", () => queue.kvDelete("k")],
      ["kvCompareAndSet", () => queue.kvCompareAndSet("k", null, "v")],
      ["kvScan", () => queue.kvScan("")],
      ["enqueueFlow", () => queue.enqueueFlow({ queue: "q", payload: "x" })],
      ["childResults", () => queue.childResults(id)],
      ["schedule", () => queue.schedule("s", { everyMs: 1_000, queue: "q", payload: "x" })],
      ["unschedule", () => queue.unschedule("s")],
      ["listSchedules", () => queue.listSchedules()],
    ];
    assertNone(await mismatches("CLOSED", probes));
  });

  it("DUPLICATE_JOB_ID from every way of enqueueing, and nothing written", async () => {
    const { queue } = await open();
    await queue.enqueue("q", "x", { jobId: "taken" });
    const probes: [string, () => unknown][] = [
      ["enqueue", () => queue.enqueue("q", "y", { jobId: "taken" })],
      ["enqueue other queue", () => queue.enqueue("other", "y", { jobId: "taken" })],
      [
        "enqueueMany",
        () =>
          queue.enqueueMany("q", [{ payload: "a" }, { payload: "y", options: { jobId: "taken" } }]),
      ],
      [
        "enqueueMany twice in one call",
        () =>
          queue.enqueueMany("q", [
            { payload: "a", options: { jobId: "twice" } },
            { payload: "b", options: { jobId: "twice" } },
          ]),
      ],
      [
        "enqueueFlow",
        () =>
          queue.enqueueFlow({
            queue: "q",
            payload: "p",
            children: [{ queue: "q", payload: "c", options: { jobId: "taken" } }],
          }),
      ],
    ];
    const wrong = await mismatches("DUPLICATE_JOB_ID", probes, DuplicateJobIdError);
    assert.equal((await queue.stats("q")).pending, 1, "a refused call enqueued");
    assert.equal((await queue.stats("other")).pending, 0);
    await queue.close();
    assertNone(wrong);
  });

  it("a job id that is unknown: 'not found' in the result, JobNotFoundError only where documented", async () => {
    const { queue } = await open();
    const unknown = "01ARZ3NDEKTSV4RRFFQ69G5FAV";
    assert.equal(await queue.getJob(unknown), null);
    assert.equal(await queue.cancel(unknown), "not_found");
    assert.deepEqual(await queue.waitForCompletion(unknown), { status: "not_found" });
    assert.equal(await queue.wakeScheduled(unknown), "not_found");
    assert.deepEqual(await queue.attemptHistory(unknown), []);
    await assert.rejects(queue.requeueDeadJob(unknown), { code: "JOB_NOT_FOUND" });
    await queue.close();
  });

  it("dedupKey: a hit on a scheduled job answers its id; a claimed job's key is free again", async () => {
    const { queue } = await open();
    const scheduled = await queue.enqueue("q", "a", { dedupKey: "k", delayMs: 60_000 });
    assert.equal(await queue.enqueue("q", "b", { dedupKey: "k" }), scheduled);
    const [hit] = await queue.enqueueMany("q", [{ payload: "c", options: { dedupKey: "k" } }]);
    assert.deepEqual(hit, { id: scheduled, created: false });
    const { enqueued } = await queue.transaction((tx) => tx.enqueue("q", "d", { dedupKey: "k" }));
    assert.deepEqual(enqueued, [{ id: scheduled, created: false }]);
    assert.equal(text((await queue.getJob(scheduled))?.payload), "a");
    // Another queue does not share the key.
    assert.notEqual(await queue.enqueue("other", "x", { dedupKey: "k" }), scheduled);
    // Once claimed, the key is cleared: a new job is made.
    const pending = await queue.enqueue("c", "x", { dedupKey: "c" });
    const claim = (await queue.claim("c"))!;
    assert.equal(claim.id, pending);
    const again = await queue.enqueue("c", "y", { dedupKey: "c" });
    assert.notEqual(again, pending);
    await queue.close();
  });

  it("ids: ULIDs strictly increasing in enqueue order, also within one millisecond", async () => {
    const { queue } = await open();
    const ids: string[] = [];
    for (let n = 0; n < 200; n++) ids.push(await queue.enqueue(`q${n % 3}`, "x"));
    ids.push(...(await queue.enqueueBatch("q", ["a", "b", "c"])));
    ids.push(
      ...(await queue.enqueueMany("q", [{ payload: "a" }, { payload: "b" }])).map((r) => r.id),
    );
    for (const id of ids) assert.match(id, /^[0-9A-HJKMNP-TV-Z]{26}$/);
    assert.deepEqual(ids, [...ids].sort());
    assert.equal(new Set(ids).size, ids.length);
    await queue.close();
  });

  it("listJobs orders: pending in claim order, scheduled by runAt, claimed/dead by id, done by completion", async () => {
    const { queue, clock } = await open({
      defaultQueueConfig: { keepDoneJobsMs: 60_000, maxAttempts: 1 },
    });
    const low = await queue.enqueue("q", "low", { priority: PRIORITY_LOW });
    const high = await queue.enqueue("q", "high", { priority: PRIORITY_HIGH });
    const normal = await queue.enqueue("q", "normal");
    const pending = (await queue.listJobs("q", "pending")).jobs.map((j) => j.id);
    assert.deepEqual(pending, [high, normal, low]);
    const late = await queue.enqueue("s", "x", { delayMs: 30_000 });
    const soon = await queue.enqueue("s", "x", { delayMs: 10_000 });
    const mid = await queue.enqueue("s", "x", { runAt: new Date(START + 20_000) });
    assert.deepEqual(
      (await queue.listJobs("s", "scheduled")).jobs.map((j) => j.id),
      [soon, mid, late],
    );
    const first = (await queue.claim("q"))!;
    const second = (await queue.claim("q"))!;
    assert.deepEqual(
      (await queue.listJobs("q", "claimed")).jobs.map((j) => j.id),
      [first.id, second.id].sort(),
    );
    await queue.ack(second);
    clock.advance(10);
    await queue.ack(first);
    assert.deepEqual(
      (await queue.listJobs("q", "done")).jobs.map((j) => j.id),
      [second.id, first.id],
    );
    const page = await queue.listJobs("s", "scheduled", { limit: 2 });
    assert.equal(page.jobs.length, 2);
    assert.ok(page.nextCursor !== undefined);
    const rest = await queue.listJobs("s", "scheduled", { cursor: page.nextCursor });
    assert.deepEqual(
      rest.jobs.map((j) => j.id),
      [late],
    );
    assert.equal(rest.nextCursor, undefined);
    await queue.close();
  });

  it("records: headers default to {}, payload is bytes, runAt as Date or number, stats of a new queue", async () => {
    const { queue } = await open();
    const id = await queue.enqueue("q", "héllo");
    const job = (await queue.getJob(id)) as JobRecord;
    assert.deepEqual(job.headers, {});
    assert.ok(job.payload instanceof Uint8Array);
    assert.equal(text(job.payload), "héllo");
    assert.equal(job.status, "pending");
    assert.equal(job.attempts, 0);
    assert.equal(job.maxAttempts, 3);
    assert.equal(job.enqueuedAt, START);
    assert.equal(job.priority, 1_000);
    for (const absent of ["claimedAt", "leaseExpiresAt", "runAt", "completedAt", "failedAt"])
      assert.equal((job as unknown as Record<string, unknown>)[absent], undefined, absent);
    const byDate = await queue.enqueue("q", "x", { runAt: new Date(START + 5_000) });
    const byNumber = await queue.enqueue("q", "x", { runAt: START + 5_000 });
    for (const scheduled of [byDate, byNumber]) {
      const record = (await queue.getJob(scheduled))!;
      assert.equal(record.status, "scheduled");
      assert.equal(record.runAt, START + 5_000);
    }
    const past = await queue.enqueue("q", "x", { runAt: new Date(START - 5_000) });
    assert.equal((await queue.getJob(past))?.status, "pending");
    assert.deepEqual(await queue.stats("never"), {
      queue: "never",
      pending: 0,
      claimed: 0,
      done: 0,
      dead: 0,
      scheduled: 0,
      paused: false,
    });
    const claim = (await queue.claim("q"))!;
    assert.equal(claim.attempts, 1);
    assert.equal(claim.claimedAt, START);
    assert.equal(claim.leaseExpiresAt, START + 30_000);
    assert.equal(claim.status, "claimed");
    await queue.close();
  });

  it("enqueueBatch and enqueueMany are atomic: one bad payload, nothing enqueued", async () => {
    const { queue } = await open({ maxPayloadBytes: 4 });
    await assert.rejects(queue.enqueueBatch("q", ["a", "b", "toolong"]), {
      code: "INVALID_ARGUMENT",
    });
    await assert.rejects(
      queue.enqueueMany("q", [{ payload: "a" }, { payload: "b", options: { priority: 0.5 } }]),
      { code: "INVALID_ARGUMENT" },
    );
    assert.equal((await queue.stats("q")).pending, 0);
    assert.deepEqual(await queue.listQueues(), []);
    await queue.close();
  });

  it("the worker: results by kind, thrown values, PermanentFailure subclasses", async () => {
    const { queue } = await open({ defaultQueueConfig: { maxAttempts: 1 } });
    const cases = {
      bytes: await queue.enqueue("w", "bytes"),
      nullResult: await queue.enqueue("w", "null"),
      zero: await queue.enqueue("w", "zero"),
      none: await queue.enqueue("w", "none"),
      thrownString: await queue.enqueue("w", "thrown-string"),
      subclass: await queue.enqueue("w", "subclass"),
    };
    class Poison extends PermanentFailure {}
    const stop = new AbortController();
    let handled = 0;
    await runWorker(
      queue,
      "w",
      (job) => {
        try {
          switch (text(job.payload)) {
            case "bytes":
              return new Uint8Array([1, 2, 3]);
            case "null":
              return null;
            case "zero":
              return 0;
            case "none":
              return undefined;
            case "thrown-string":
              throw "plain string";
            default:
              throw new Poison("bad input");
          }
        } finally {
          if (++handled === Object.keys(cases).length) stop.abort();
        }
      },
      { signal: stop.signal },
    );
    const job = async (id: string): Promise<JobRecord> => (await queue.getJob(id))!;
    // Done jobs are kept for their result (resultRetentionMs) only when they have one.
    assert.deepEqual([...((await job(cases.bytes)).result ?? [])], [1, 2, 3]);
    assert.equal(text((await job(cases.nullResult)).result), "null");
    assert.equal(text((await job(cases.zero)).result), "0");
    assert.equal(await queue.getJob(cases.none), null);
    const thrown = await job(cases.thrownString);
    assert.equal(thrown.status, "dead");
    assert.match(thrown.lastError ?? "", /plain string/);
    const subclass = await job(cases.subclass);
    assert.equal(subclass.status, "dead");
    assert.equal(subclass.lastError, "bad input");
    await queue.close();
  });

  it("the worker: an aborted signal resolves at once; a closed queue ends the loop", async () => {
    const { queue } = await open();
    await queue.enqueue("w", "x");
    const handled: string[] = [];
    await runWorker(queue, "w", (job) => void handled.push(job.id), {
      signal: AbortSignal.abort(),
    });
    assert.deepEqual(handled, []);
    const running = runWorker(queue, "idle", () => undefined, { pollIntervalMs: 10 });
    await new Promise((resolve) => setTimeout(resolve, 20));
    await queue.close();
    await running;
  });

  it("record fields present only in their state: leaseExpiresAt, runAt, completedAt, failedAt", async () => {
    const { queue, clock } = await open({
      defaultQueueConfig: { maxAttempts: 2, keepDoneJobsMs: 60_000 },
    });
    const id = await queue.enqueue("q", "x");
    await queue.nack((await queue.claim("q"))!, "first");
    const retrying = (await queue.getJob(id))!;
    assert.equal(retrying.status, "scheduled");
    assert.equal(retrying.leaseExpiresAt, undefined, "leaseExpiresAt after nack");
    assert.equal(retrying.runAt, START + 1_000);
    assert.equal(retrying.lastError, "first");
    clock.advance(1_000);
    await queue.promoteScheduledNow();
    const promoted = (await queue.getJob(id))!;
    assert.equal(promoted.status, "pending");
    assert.equal(promoted.runAt, undefined, "runAt after promotion");
    const claim = (await queue.claim("q"))!;
    await queue.ack(claim);
    const done = (await queue.getJob(id))!;
    assert.equal(done.status, "done");
    assert.equal(done.completedAt, clock.now());
    assert.equal(done.leaseExpiresAt, undefined, "leaseExpiresAt when done");
    const dying = await queue.enqueue("q", "y");
    await queue.deadLetter((await queue.claim("q"))!, "poison");
    const dead = (await queue.getJob(dying))!;
    assert.equal(dead.failedAt, clock.now());
    assert.equal(dead.leaseExpiresAt, undefined, "leaseExpiresAt when dead");
    assert.equal(dead.completedAt, undefined, "completedAt when dead");
    await queue.close();
  });

  it("durable across close and reopen: paused queues, queues that held jobs, schedules, KV", async () => {
    const store = new MemoryStore();
    const first = await open({}, store);
    await first.queue.enqueue("gone", "x");
    await first.queue.ack((await first.queue.claim("gone"))!);
    await first.queue.pauseQueue("held");
    await first.queue.enqueue("held", "x");
    await first.queue.schedule("tick", { everyMs: 60_000, queue: "ticks", payload: "t" });
    await first.queue.kvPut("k", "v");
    await first.queue.close();
    const second = await open({}, store);
    assert.ok((await second.queue.listQueues()).includes("gone"), "a queue that held a job");
    assert.equal((await second.queue.stats("held")).paused, true);
    assert.equal(await second.queue.claim("held"), null);
    await second.queue.resumeQueue("held");
    assert.ok((await second.queue.claim("held")) !== null);
    assert.deepEqual(
      (await second.queue.listSchedules()).map((s) => s.name),
      ["tick"],
    );
    assert.equal(text((await second.queue.kvGet("k")) ?? undefined), "v");
    await second.queue.close();
  });

  it("claim waitMs: a job enqueued during the wait is claimed", async () => {
    const { queue } = await open();
    const waiting = queue.claim("q", { waitMs: 60_000 });
    const batch = queue.claimBatch("b", 5, { waitMs: 60_000 });
    const id = await queue.enqueue("q", "x");
    await queue.enqueueBatch("b", ["1", "2"]);
    assert.equal((await waiting)?.id, id);
    assert.ok((await batch).length >= 1);
    await queue.close();
  });

  it("removeJobs olderThanMs: only jobs older than that go", async () => {
    const { queue, clock } = await open();
    const old = await queue.enqueue("q", "old");
    clock.advance(10_000);
    const young = await queue.enqueue("q", "young");
    assert.equal(await queue.removeJobs("q", "pending", { olderThanMs: 5_000 }), 1);
    assert.equal(await queue.getJob(old), null);
    assert.equal((await queue.getJob(young))?.status, "pending");
    await queue.close();
  });

  it("a cancel requested while claimed wins over the worker's nack or deadLetter", async () => {
    const { queue } = await open({ defaultQueueConfig: { retryBackoffBaseMs: 0 } });
    for (const settle of ["nack", "deadLetter"] as const) {
      const id = await queue.enqueue(settle, "x");
      const claim = (await queue.claim(settle))!;
      assert.equal(await queue.cancel(id), "requested");
      await queue[settle](claim, "failed").catch(() => {});
      assert.notEqual((await queue.getJob(id))?.status, "pending", `${settle}: retried`);
      assert.equal(await queue.claim(settle), null, `${settle}: claimable again`);
      assert.deepEqual(
        await queue.waitForCompletion(id, { timeoutMs: 1_000 }),
        { status: "cancelled" },
        settle,
      );
    }
    await queue.close();
  });

  it("requeueDeadJob goes by the stored dead job, not the caller's copy", async () => {
    const { queue } = await open({ defaultQueueConfig: { maxAttempts: 1 } });
    const id = await queue.enqueue("q", "original", { priority: 7 });
    await queue.nack((await queue.claim("q"))!, "bad");
    const copy = (await queue.getJob(id))!;
    const edited: JobRecord = {
      ...copy,
      payload: new TextEncoder().encode("edited"),
      priority: 1,
      queue: "elsewhere",
    };
    await queue.requeueDeadJob(edited);
    const back = (await queue.getJob(id))!;
    assert.equal(back.status, "pending");
    assert.equal(back.queue, "q");
    assert.equal(back.priority, 7);
    assert.equal(text(back.payload), "original");
    await assert.rejects(queue.requeueDeadJob(copy), { code: "JOB_NOT_FOUND" });
    await queue.close();
  });

  it("two claims waiting, jobs arriving one by one: each waiter gets one within its wait", async () => {
    const { queue } = await open();
    const first = queue.claim("q", { waitMs: 60_000 });
    const second = queue.claim("q", { waitMs: 60_000 });
    const a = await queue.enqueue("q", "a");
    await new Promise((resolve) => setTimeout(resolve, 10));
    const b = await queue.enqueue("q", "b");
    const got = [(await first)?.id, (await second)?.id].sort();
    assert.deepEqual(got, [a, b].sort());
    await queue.close();
  });

  it("queue names that prefix one another stay apart", async () => {
    const { queue } = await open({ defaultQueueConfig: { maxAttempts: 1 } });
    for (const name of ["a", "a:b", "a/b", "ab", "a\u0000"]) await queue.enqueue(name, name);
    assert.equal((await queue.stats("a")).pending, 1);
    const claim = (await queue.claim("a"))!;
    assert.equal(text(claim.payload), "a");
    assert.equal(await queue.claim("a"), null);
    await queue.nack(claim, "x");
    assert.equal((await queue.deadJobs("a")).length, 1);
    assert.equal((await queue.deadJobs("a:b")).length, 0);
    assert.equal(await queue.removeJobs("a", "pending"), 0);
    assert.equal((await queue.stats("a:b")).pending, 1);
    assert.equal((await queue.listJobs("a/b", "pending")).jobs.length, 1);
    await queue.close();
  });

  it("cancel of a claimed job: 'requested', the worker's signal aborts, the attempt ends cancelled", async () => {
    const { queue } = await open();
    const id = await queue.enqueue("w", "x");
    const stop = new AbortController();
    let aborted = false;
    const worker = runWorker(
      queue,
      "w",
      async (_job: Claim, ctx) => {
        const outcome = await queue.cancel(id);
        assert.equal(outcome, "requested");
        await new Promise<void>((resolve) => {
          if (ctx.signal.aborted) resolve();
          else ctx.signal.addEventListener("abort", () => resolve());
        });
        aborted = true;
        stop.abort();
        throw new Error("stopped");
      },
      { signal: stop.signal },
    );
    await worker;
    assert.equal(aborted, true);
    assert.deepEqual(await queue.waitForCompletion(id, { timeoutMs: 1_000 }), {
      status: "cancelled",
    });
    assert.equal(await queue.getJob(id), null);
    const history = await queue.attemptHistory(id);
    assert.equal(history.at(-1)?.outcome, "cancelled");
    await queue.close();
  });
});
