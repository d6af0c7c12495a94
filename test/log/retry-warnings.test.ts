/**
 * One log line per store problem: a fault that fails request after request
 * of the same kind (every WAL write retried once, say) warns once, then at
 * most once per reminder interval while it lasts, and says once that it
 * healed; a different fault still warns at once.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ManualClock } from "../../src/clock.js";
import { StorageError } from "../../src/errors.js";
import { kindOf, RETRY_HEALED_AFTER_MS, RETRY_REMINDER_MS } from "../../src/log/retry-warnings.js";
import { LogStorage } from "../../src/log/storage.js";
import { createWalObject } from "../../src/log/wal-create.js";
import { PayloadObjects } from "../../src/queue/payloads.js";
import { Queue } from "../../src/queue/queue.js";
import { MemoryStore } from "../../src/store/memory.js";
import { FaultStore } from "../../src/store/wrappers/fault.js";
import { recordingLogger } from "../recording-logger.js";
import { until } from "../until.js";
import { settleOnClock } from "./helpers.js";

const slowDown = (): Error => new StorageError("503 SlowDown");
const RETRY = { baseDelayMs: 100, maxDelayMs: 100, maxElapsedMs: 60_000 };

function storageWithFaults() {
  const clock = new ManualClock();
  const logger = recordingLogger();
  const faults = new FaultStore(new MemoryStore());
  const storage = LogStorage.create(faults, { clock, logger, retry: RETRY });
  /** Creates WAL object `n`, its first attempt failing with `error` (none: succeeding at once). */
  const writeFailingOnce = async (n: number, error: (() => Error) | null = slowDown) => {
    if (error !== null)
      faults.addRule({ op: "put", keyPrefix: "q/wal/", mode: "before", times: 1, error });
    const token = new Uint8Array([n]);
    const outcome = await settleOnClock(
      clock,
      createWalObject(storage, `q/wal/${n}`, token, token, () => false),
    );
    assert.equal(outcome.kind, "created");
  };
  return { clock, logger, faults, storage, writeFailingOnce };
}

/** A queue on a store that fails requests by rule, on a manual clock, its lines recorded. */
async function faultyQueue(options: { payloadOffloadBytes?: number } = {}) {
  const clock = new ManualClock();
  const logger = recordingLogger();
  const faults = new FaultStore(new MemoryStore());
  const queue = await Queue.open(faults, "q", {
    ...options,
    clock,
    logger,
    flushIntervalMs: 0,
    log: { retry: RETRY },
  });
  return { clock, logger, faults, queue };
}

describe("retry warnings: one line per problem", { timeout: 30_000 }, () => {
  it("every WAL write failing once warns once, not once per write", async () => {
    const { logger, writeFailingOnce } = storageWithFaults();
    for (let n = 0; n < 20; n++) await writeFailingOnce(n);
    assert.deepEqual(logger.messages("warn", "error"), [
      "store request failed; retrying with backoff",
    ]);
    assert.equal(logger.at("debug").length, 19, "each later retry still traced on debug");
  });

  it("two errors alternating on one kind of request warn once each, not every time", async () => {
    const { logger, writeFailingOnce } = storageWithFaults();
    const internal = (): Error => new StorageError("500 InternalError");
    for (let n = 0; n < 20; n++) await writeFailingOnce(n, n % 2 === 0 ? slowDown : internal);
    assert.deepEqual(
      logger.at("warn", "error").map((line) => line.fields?.error),
      ["503 SlowDown", "500 InternalError"],
    );
    assert.equal(logger.at("debug").length, 18);
  });

  it("errors with one message but different causes are two problems; causes differing only in their text are one", async () => {
    const { logger, writeFailingOnce } = storageWithFaults();
    const reset = (n: number) => (): Error =>
      new StorageError("store request failed", {
        cause: Object.assign(new Error(`read ECONNRESET (socket ${n})`), { code: "ECONNRESET" }),
      });
    const unavailable = (n: number) => (): Error =>
      new StorageError("store request failed", {
        cause: Object.assign(new Error(`Service Unavailable, request id ${n}`), {
          name: "ServiceUnavailable",
          statusCode: 503,
        }),
      });
    for (let n = 0; n < 20; n++) await writeFailingOnce(n, n % 2 === 0 ? reset(n) : unavailable(n));
    const warned = logger.at("warn", "error");
    assert.deepEqual(
      warned.map((line) => [line.message, line.fields?.error, line.fields?.cause]),
      [
        ["store request failed; retrying with backoff", "store request failed", "ECONNRESET"],
        [
          "store request failed; retrying with backoff",
          "store request failed",
          "ServiceUnavailable 503",
        ],
      ],
    );
    assert.equal(logger.at("debug").length, 18);
  });

  it("a status that is not an integer (NaN, 1.5, Infinity) is no cause: one problem, no cause field", async () => {
    const { logger, writeFailingOnce } = storageWithFaults();
    const statuses = [Number.NaN, 1.5, Number.POSITIVE_INFINITY, undefined];
    for (let n = 0; n < 8; n++) {
      const status = statuses[n % statuses.length];
      await writeFailingOnce(n, () =>
        Object.assign(new StorageError("store request failed"), { status }),
      );
    }
    const warned = logger.at("warn", "error");
    assert.deepEqual(
      warned.map((line) => [line.message, line.fields?.error, line.fields?.cause]),
      [["store request failed; retrying with backoff", "store request failed", undefined]],
    );
    assert.equal(logger.at("debug").length, 7);
  });

  it("a lasting fault reminds once per interval, and one line says when it healed", async () => {
    const { clock, logger, writeFailingOnce } = storageWithFaults();
    const started = clock.monotonicNow();
    // A write failing once every 10 s, until one fails a reminder interval after the first.
    while (clock.monotonicNow() - started <= RETRY_REMINDER_MS + 10_000) {
      await writeFailingOnce(clock.monotonicNow());
      clock.advance(10_000);
    }
    assert.deepEqual(logger.messages("warn", "error"), [
      "store request failed; retrying with backoff",
      "store requests still failing; retrying with backoff",
    ]);
    const reminder = logger.at("warn")[1]!.fields!;
    assert.equal(reminder.what, "create q/wal/");
    assert.ok((reminder.failedRequests as number) > 1);
    // Writes succeed again: the heal is said once, after a quiet spell, at the next success.
    await writeFailingOnce(900_001, null);
    assert.deepEqual(logger.messages("info"), [], "not yet: too soon after the last failure");
    clock.advance(RETRY_HEALED_AFTER_MS);
    await writeFailingOnce(900_002, null);
    await writeFailingOnce(900_003, null);
    assert.deepEqual(logger.messages("info"), ["store requests succeed again"]);
    // A new failure after the heal is a new problem: it warns again.
    await writeFailingOnce(1_000_000);
    assert.equal(logger.at("warn").length, 3);
  });

  it("a failure after a success and a quiet spell is a new problem: it warns, and its duration starts again", async () => {
    const { faults, logger, storage, clock } = storageWithFaults();
    /** A checkpoint read failing once, then succeeding (one blip on a rarely made request). */
    const blip = async () => {
      faults.addRule({ op: "get", mode: "before", times: 1, error: slowDown });
      await settleOnClock(clock, storage.get("q/checkpoints/x"));
    };
    await blip();
    clock.advance(5 * 60_000); // within the reminder interval, yet a new outage
    await blip();
    clock.advance(3 * 3_600_000); // past it: not "still failing" for hours
    await blip();
    assert.deepEqual(logger.messages("warn", "error"), [
      "store request failed; retrying with backoff",
      "store request failed; retrying with backoff",
      "store request failed; retrying with backoff",
    ]);
    assert.deepEqual(logger.messages("debug"), []);
  });

  it("the heal line's failedForMs runs from the problem's first failure to its last", async () => {
    const { faults, logger, writeFailingOnce, storage, clock } = storageWithFaults();
    // One write failing for many attempts in a row, then succeeding.
    faults.addRule({ op: "put", keyPrefix: "q/wal/", mode: "before", times: 200, error: slowDown });
    const started = clock.monotonicNow();
    const token = new Uint8Array([1]);
    await settleOnClock(
      clock,
      createWalObject(storage, "q/wal/1", token, token, () => false),
    );
    const lasted = clock.monotonicNow() - started; // and a few clock steps while the test noticed
    assert.ok(lasted > 5_000, `the failing attempts lasted ${lasted} ms`);
    assert.deepEqual(logger.messages("info"), [], "its own success is too soon after the failure");
    clock.advance(RETRY_HEALED_AFTER_MS);
    await writeFailingOnce(2, null);
    assert.deepEqual(logger.messages("info"), ["store requests succeed again"]);
    const failedForMs = logger.at("info")[0]!.fields!.failedForMs as number;
    assert.ok(
      failedForMs <= lasted && failedForMs >= lasted - 1_000,
      `failedForMs ${failedForMs} for attempts failing over ${lasted} ms`,
    );
  });

  it("a failure of another kind, or with another error, still warns at once", async () => {
    const { faults, logger, storage, clock, writeFailingOnce } = storageWithFaults();
    await writeFailingOnce(1);
    await writeFailingOnce(2, () => new Error("connect ECONNREFUSED"));
    faults.addRule({ op: "get", mode: "before", times: 1, error: slowDown });
    await settleOnClock(clock, storage.get("q/checkpoint/x"));
    assert.deepEqual(
      logger.at("warn").map((line) => [line.fields?.what, line.fields?.error]),
      [
        ["create q/wal/1", "503 SlowDown"],
        ["create q/wal/2", "connect ECONNREFUSED"],
        ["GET q/checkpoint/x", "503 SlowDown"],
      ],
    );
  });

  it("a queue whose every WAL write fails once logs one line for it", async () => {
    const { clock, logger, faults, queue } = await faultyQueue();
    for (let i = 0; i < 10; i++) {
      faults.addRule({ op: "put", keyPrefix: "q/wal/", mode: "before", times: 1, error: slowDown });
      await settleOnClock(clock, queue.enqueue("jobs", `job ${i}`));
    }
    assert.equal(faults.injectedCount, 10);
    assert.deepEqual(logger.messages("warn", "error"), [
      "store request failed; retrying with backoff",
    ]);
    await queue.close();
  });
});

describe("retry warnings: payload objects", { timeout: 30_000 }, () => {
  it("a request's kind is its verb and its key up to where one object's name starts, for every key layout", () => {
    const ulid = "01HZX3K9V7Q2W8E4R6T5Y1U0PA";
    const id = "00000000000000000042";
    const kinds = (prefix: string) =>
      [
        `GET ${prefix}manifest/${id}`,
        `create ${prefix}wal/${id}`,
        `PUT ${prefix}checkpoint/${id}-${ulid}`,
        `DELETE ${prefix}probe/${ulid}`,
        `LIST ${prefix}wal/`,
        `probe ${prefix}probe/`,
        `writing payload object "${prefix}payload/${ulid}"`,
        `reading payload object "${prefix}payload/${ulid}"`,
        `deleting payload object "${prefix}payload/${ulid}"`,
      ].map((what) => kindOf(what).kind);
    for (const prefix of ["", "q/", "my queues/q 1/"])
      assert.deepEqual(kinds(prefix), [
        `GET ${prefix}manifest/`,
        `create ${prefix}wal/`,
        `PUT ${prefix}checkpoint/`,
        `DELETE ${prefix}probe/`,
        `LIST ${prefix}wal/`,
        `probe ${prefix}probe/`,
        `writing payload object "${prefix}payload/…"`,
        `reading payload object "${prefix}payload/…"`,
        `deleting payload object "${prefix}payload/…"`,
      ]);
    assert.equal(kindOf(`reading payload object "q/payload/${ulid}"`).key, `q/payload/${ulid}`);
  });

  it("every payload object write failing once warns once, not once per object", async () => {
    const { clock, logger, faults, queue } = await faultyQueue({ payloadOffloadBytes: 16 });
    for (let i = 0; i < 20; i++) {
      // The injected fault's message names the object's key, as a store's often does.
      faults.addRule({ op: "put", keyPrefix: "q/payload/", mode: "before", times: 1 });
      await settleOnClock(clock, queue.enqueue("jobs", "x".repeat(64)));
    }
    assert.equal(faults.injectedCount, 20);
    assert.equal((await queue.stats("jobs")).pending, 20);
    assert.deepEqual(logger.messages("warn", "error"), [
      "store request failed; retrying with backoff",
    ]);
    assert.equal(logger.at("debug").length, 19, "each later retry still traced on debug");
    await queue.close();
  });
});

describe("retry warnings: a store failing every request while a queue opens", {
  timeout: 30_000,
}, () => {
  for (const [outage, failures] of [
    ["until the open gives up", Number.POSITIVE_INFINITY],
    ["for a while, then healing", 6],
  ] as const) {
    it(`logs one line ${outage}`, async () => {
      const clock = new ManualClock();
      const logger = recordingLogger();
      const faults = new FaultStore(new MemoryStore());
      faults.addRule({ mode: "before", times: failures, error: slowDown });
      const opened = await settleOnClock(
        clock,
        Queue.open(faults, "q", {
          clock,
          logger,
          flushIntervalMs: 0,
          log: { retry: { baseDelayMs: 100, maxDelayMs: 100, maxElapsedMs: 1_000 } },
        }),
      ).catch((error: unknown) => error as Error);
      assert.ok(faults.injectedCount > 2, `${faults.injectedCount} requests failed`);
      assert.deepEqual(logger.messages("warn", "error"), [
        "store request failed; retrying with backoff",
      ]);
      if (failures === 6) {
        assert.ok(opened instanceof Queue, `opened once the store healed: ${opened}`);
        await opened.close();
      } else assert.match((opened as Error).message, /failed after \d+ attempt\(s\)/);
    });
  }
});

describe("retry warnings: payload object deletes given up on", { timeout: 30_000 }, () => {
  const left = <L extends { message: string }>(lines: readonly L[]): L[] =>
    lines.filter((line) => line.message.includes("collected later"));

  /**
   * 20 payload object deletes failing past their retry budget (1 s), each
   * followed by one that succeeds: a store that refuses deletes now and
   * then, as one under load does.
   */
  async function deletesFailing() {
    const clock = new ManualClock();
    const logger = recordingLogger();
    const faults = new FaultStore(new MemoryStore());
    const payloads = new PayloadObjects(faults, "q", 16, {
      clock,
      logger,
      retry: { baseDelayMs: 100, maxDelayMs: 100, maxElapsedMs: 1_000 },
    });
    let n = 0;
    const remove = async (failing: boolean) => {
      const unfail = failing
        ? faults.addRule({ op: "delete", keyPrefix: "q/payload/", mode: "before", error: slowDown })
        : () => {};
      const before = faults.injectedCount;
      payloads.delete([`q/payload/01HZX3K9V7Q2W8E4R6T5Y1U${String(n++).padStart(3, "0")}`]);
      // Past the retry budget: given up on before the next delete.
      let ticks = 0;
      await until(() => {
        clock.advance(100);
        return ++ticks > 30;
      }, "the delete given up on");
      if (failing) assert.ok(faults.injectedCount > before + 5);
      unfail();
    };
    for (let i = 0; i < 40; i++) await remove(i % 2 === 0);
    return { clock, logger, remove };
  }

  it("warns once, not once per object, and later ones on debug", async () => {
    const { logger } = await deletesFailing();
    assert.equal(left(logger.at("warn")).length, 1, "one warning for 20 objects left");
    assert.equal(left(logger.at("debug")).length, 19, "each later one traced on debug");
    assert.equal(logger.at("error").length, 0);
  });

  it("reminds at most every ten minutes with how many were left, and a healed store says so at most once", async () => {
    const { clock, logger, remove } = await deletesFailing();
    clock.advance(RETRY_REMINDER_MS);
    await remove(true);
    const warned = left(logger.at("warn"));
    assert.equal(warned.length, 2, "a reminder ten minutes on");
    assert.equal(
      warned[1]?.fields?.objectsLeft,
      20,
      "19 on debug since the first line, and this one",
    );
    clock.advance(RETRY_HEALED_AFTER_MS);
    await remove(false);
    await remove(false);
    assert.ok(logger.at("info").length <= 1, JSON.stringify(logger.messages("info")));
    assert.equal(logger.at("error").length, 0);
  });
});
