import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Clock } from "../../src/clock.js";
import { silentLogger } from "../../src/logger.js";
import { ByteReader, ByteWriter } from "../../src/queue/binary.js";
import type { OpenOptions } from "../../src/queue/options.js";
import { Queue } from "../../src/queue/queue.js";
import { MemoryStore } from "../../src/store/memory.js";
import { listAll } from "../../src/store/types.js";
import { runWorker } from "../../src/worker/run-worker.js";
import { liveState, stateDigest } from "../reliability/lib/audit.js";
import { mustClaim, openTestQueue, rejection } from "./helpers.js";

/** Everything a duration or a timestamp must not be. */
const NOT_WHOLE_MS = [1000.5, 0.1, -1, -5000, Number.NaN, Infinity, 2 ** 53, 1e300];

/** A clock the test sets to anything, also before 1970. */
class SettableClock implements Clock {
  constructor(public ms: number) {}
  now(): number {
    return this.ms;
  }
}

describe("durations and timestamps are non-negative safe integers", { timeout: 60_000 }, () => {
  it("rejects fractional, negative and unsafe durations in every option, at open", async () => {
    const store = new MemoryStore();
    const bad = (value: number): OpenOptions[] => [
      { defaultQueueConfig: { keepDoneJobsMs: value } },
      { defaultQueueConfig: { deadRetentionMs: value } },
      { defaultQueueConfig: { leaseMs: value } },
      { defaultQueueConfig: { retryBackoffBaseMs: value } },
      { defaultQueueConfig: { retryBackoffMaxMs: value } },
      { queueConfigs: { a: { keepDoneJobsMs: value } } },
      { reaperIntervalMs: value },
      { schedulerIntervalMs: value },
      { flushIntervalMs: value },
    ];
    for (const value of NOT_WHOLE_MS)
      for (const options of bad(value)) {
        const error = await rejection(Queue.open(store, "q", { logger: silentLogger, ...options }));
        assert.equal(error.code, "INVALID_ARGUMENT", `${JSON.stringify(options)}`);
        assert.match(error.message, /integer number of milliseconds/);
      }
    assert.deepEqual(await listAll(store, ""), [], "a rejected open writes nothing");
  });

  it("rejects bad runAt, leaseMs, waitMs and extensionMs values and changes nothing", async () => {
    const { queue } = await openTestQueue();
    await queue.enqueue("a", "x");
    const claim = await mustClaim(queue, "a");
    const before = stateDigest(liveState(queue));
    const records = queue.logStats().recordsWritten;
    for (const value of NOT_WHOLE_MS) {
      for (const call of [
        () => queue.enqueue("a", "y", { runAt: value }),
        () => queue.claim("a", { leaseMs: value }),
        () => queue.claim("a", { waitMs: value }),
        () => queue.renewLease(claim, value),
      ])
        assert.equal((await rejection(call())).code, "INVALID_ARGUMENT", `${value}`);
      for (const options of [{ pollIntervalMs: value }, { leaseMs: value }])
        assert.equal(
          (await rejection(runWorker(queue, "a", () => {}, options))).code,
          "INVALID_ARGUMENT",
        );
    }
    assert.equal(
      (await rejection(queue.enqueue("a", "y", { runAt: new Date(-5000) }))).code,
      "INVALID_ARGUMENT",
    );
    assert.equal(stateDigest(liveState(queue)), before);
    assert.equal(queue.logStats().recordsWritten, records);
    await queue.close();
  });

  it("keepDoneJobsMs 1000.5 (the reported case) is refused rather than rounded", async () => {
    const error = await rejection(
      Queue.open(new MemoryStore(), "q", {
        logger: silentLogger,
        defaultQueueConfig: { keepDoneJobsMs: 1000.5 },
      }),
    );
    assert.equal(error.code, "INVALID_ARGUMENT");
    assert.equal(
      error.message,
      "Expected `options.defaultQueueConfig.keepDoneJobsMs` to be null or a non-negative integer number of milliseconds, got 1000.5",
    );
  });
});

describe("a clock before 1970 is never stored", { timeout: 60_000 }, () => {
  it("fails open clearly, before touching the store", async () => {
    const store = new MemoryStore();
    const error = await rejection(
      Queue.open(store, "q", { logger: silentLogger, clock: new SettableClock(-5000) }),
    );
    assert.equal(error.code, "INVALID_ARGUMENT");
    assert.match(error.message, /options\.clock\.now\(\).*got -5000/);
    assert.deepEqual(await listAll(store, ""), []);
  });

  it("refuses writes while the clock reads before 1970, and works again once it is fixed", async () => {
    const clock = new SettableClock(1_700_000_000_000);
    const store = new MemoryStore();
    const { queue } = await openTestQueue({}, store, clock as never);
    const id = await queue.enqueue("a", "x");
    const claim = await mustClaim(queue, "a");
    const before = stateDigest(liveState(queue));
    clock.ms = -5000;
    for (const call of [
      () => queue.enqueue("a", "y"),
      () => queue.ack(claim),
      () => queue.nack(claim, "e"),
    ])
      assert.equal((await rejection(call())).code, "INVALID_ARGUMENT");
    assert.equal(stateDigest(liveState(queue)), before, "nothing changed, the claim is still live");
    clock.ms = 1_700_000_001_000;
    await queue.ack(claim);
    await queue.close();
    const reopened = await Queue.open(store, "q", { logger: silentLogger });
    assert.equal(await reopened.getJob(id), null);
    assert.equal((await reopened.stats("a")).done, 1);
    await reopened.close();
  });
});

describe("the record encoder refuses numbers it cannot store", { timeout: 60_000 }, () => {
  it("throws for negative, fractional and unsafe varints and out-of-range bytes", () => {
    for (const value of [-5000, -1, 0.5, 1.5, 2 ** 53, Number.NaN, Infinity])
      assert.throws(() => new ByteWriter().varint(value), /cannot store/, `${value}`);
    for (const value of [-1, 256, 1.5])
      assert.throws(() => new ByteWriter().u8(value), /cannot store/);
    const w = new ByteWriter();
    w.varint(Number.MAX_SAFE_INTEGER);
    w.varint(0);
    const r = new ByteReader(w.finish());
    assert.equal(r.varint(), Number.MAX_SAFE_INTEGER);
    assert.equal(r.varint(), 0);
  });

  it("reads a varint past 2^53 − 1 as damage, not as a rounded number", () => {
    // 2^53 + 1 as LEB128: eight bytes of 7 bits each.
    const bytes = [0x81, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10];
    assert.throws(() => new ByteReader(Uint8Array.from(bytes)).varint(), /2\^53/);
  });
});
