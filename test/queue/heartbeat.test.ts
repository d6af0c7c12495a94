import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { ManualClock } from "../../src/clock.js";
import { StorageError } from "../../src/errors.js";
import { readHeartbeat } from "../../src/queue/heartbeat.js";
import { QueueReader } from "../../src/queue/reader.js";
import { FileStore } from "../../src/store/file.js";
import { MemoryStore } from "../../src/store/memory.js";
import type { ObjectStore } from "../../src/store/types.js";
import { FaultStore } from "../../src/store/wrappers/fault.js";
import { recordingLogger } from "../recording-logger.js";
import { openTestQueue, rejection } from "./helpers.js";

const dirs: string[] = [];
after(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

async function fileStore(): Promise<FileStore> {
  const dir = await mkdtemp(join(tmpdir(), "taquba-heartbeat-"));
  dirs.push(dir);
  return new FileStore(dir);
}

/** Lets a beat that a timer started reach the store (FileStore writes take real time). */
async function settle(): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 50));
}

async function beatOf(store: ObjectStore) {
  return (await QueueReader.open(store, "q")).writerHeartbeat();
}

/** The beat once its counter reached `counter` (polls the store for up to 5 s of real time). */
async function beatNumber(store: ObjectStore, counter: number) {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const beat = await beatOf(store);
    if ((beat?.counter ?? 0) >= counter || Date.now() > deadline) return beat;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Like `beatNumber`, reading the beat object itself (no manifest listing, which a test may break). */
async function storedBeatNumber(store: ObjectStore, counter: number) {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const beat = await readHeartbeat(store, "q");
    if ((beat?.counter ?? 0) >= counter || Date.now() > deadline) return beat;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const T0 = Date.UTC(2026, 11, 2, 6, 0, 0);

for (const [kind, makeStore] of [
  ["MemoryStore", async () => new MemoryStore()],
  ["FileStore", fileStore],
] as const) {
  describe(`writer heartbeat on ${kind}`, { timeout: 30_000 }, () => {
    it("beats at open and every interval, closes with a closed beat, and continues after a reopen", async () => {
      const store = await makeStore();
      const clock = new ManualClock(T0);
      const { queue } = await openTestQueue({ heartbeatMs: 1_000 }, store, clock);
      assert.deepEqual(await beatOf(store), {
        counter: 1,
        at: T0,
        intervalMs: 1_000,
        epoch: 1,
        closed: false,
      });
      clock.advance(999);
      await settle();
      assert.equal((await beatOf(store))?.counter, 1, "no beat before the interval");
      clock.advance(1);
      assert.deepEqual(await beatNumber(store, 2), {
        counter: 2,
        at: T0 + 1_000,
        intervalMs: 1_000,
        epoch: 1,
        closed: false,
      });
      clock.advance(1_000);
      assert.equal((await beatNumber(store, 3))?.counter, 3);
      await queue.close();
      assert.deepEqual(await beatOf(store), {
        counter: 4,
        at: T0 + 2_000,
        intervalMs: 1_000,
        epoch: 1,
        closed: true,
      });
      clock.advance(5_000);
      await settle();
      assert.equal((await beatOf(store))?.counter, 4, "no beat after close");

      const reopened = await openTestQueue({ heartbeatMs: 500 }, store, clock);
      assert.deepEqual(await beatOf(store), {
        counter: 5,
        at: T0 + 7_000,
        intervalMs: 500,
        epoch: 2,
        closed: false,
      });
      const keys = (await store.list("q/heartbeat/")).objects.map((o) => o.key);
      assert.deepEqual(
        keys,
        ["q/heartbeat/00000000000000000002"],
        "the older writer's beat is gone",
      );
      await reopened.queue.close();
    });

    it("a writer that stops without closing leaves a beat that is not closed and stops advancing", async () => {
      const store = await makeStore();
      const clock = new ManualClock(T0);
      const { queue } = await openTestQueue({ heartbeatMs: 1_000 }, store, clock);
      // A newer writer fences this one: the older stops beating when it notices.
      const next = await openTestQueue({ heartbeatMs: 1_000 }, store, clock);
      assert.deepEqual(await beatOf(store), {
        counter: 2,
        at: T0,
        intervalMs: 1_000,
        epoch: 2,
        closed: false,
      });
      await rejection(queue.enqueue("jobs", "x")); // fenced
      clock.advance(1_000);
      const beat = await beatNumber(store, 3);
      assert.equal(beat?.epoch, 2, "readers follow the newest writer");
      assert.equal(beat?.counter, 3);
      await next.queue.close();
    });

    it("an idle writer learns of a takeover after its next beat, and beats no more", async () => {
      const store = await makeStore();
      const clock = new ManualClock(T0);
      const { queue } = await openTestQueue({ heartbeatMs: 1_000 }, store, clock);
      const next = await openTestQueue({}, store, clock);
      await settle();
      assert.equal(queue.closed, false);
      clock.advance(1_000);
      for (let i = 0; i < 100 && !queue.closed; i++) await settle();
      assert.equal(queue.closed, true);
      assert.equal((await rejection(queue.enqueue("jobs", "x"))).code, "FENCED");
      // The look follows the beat, so one beat lands under the old epoch; readers take the newest.
      clock.advance(5_000);
      await settle();
      const stored = await readHeartbeat(store, "q");
      assert.deepEqual(
        [stored?.epoch, stored?.counter],
        [1, 2],
        "no beat after the fence was seen",
      );
      await next.queue.close();
    });

    it("no beat without heartbeatMs", async () => {
      const store = await makeStore();
      const { queue } = await openTestQueue({}, store);
      assert.equal(await beatOf(store), null);
      await queue.close();
      assert.equal(await beatOf(store), null);
      assert.deepEqual((await store.list("q/heartbeat/")).objects, []);
    });
  });
}

describe("writer heartbeat failures", { timeout: 30_000 }, () => {
  it("a failing beat is logged once, the counter still advances, and beats resume", async () => {
    const faults = new FaultStore(new MemoryStore());
    const clock = new ManualClock(T0);
    const logger = recordingLogger();
    const { queue } = await openTestQueue({ heartbeatMs: 1_000, logger }, faults, clock);
    const stop = faults.addRule({ op: "put", keyPrefix: "q/heartbeat/", mode: "before" });
    const before = faults.injectedCount;
    for (let i = 1; i <= 3; i++) {
      clock.advance(1_000);
      while (faults.injectedCount < before + i) await settle();
    }
    assert.equal(
      logger.messages("warn").filter((w) => w.includes("heartbeat failed")).length,
      1,
      logger.messages("warn").join(),
    );
    assert.equal((await beatOf(faults))?.counter, 1);
    // The queue itself goes on.
    await queue.enqueue("jobs", "still fine");
    stop();
    clock.advance(1_000);
    assert.equal((await beatNumber(faults, 5))?.counter, 5, "beats 2-4 failed, 5 landed");
    assert.ok(logger.messages("warn").some((w) => w.includes("recovered")));
    await queue.close();
  });

  it("a manifest listing that fails or hangs never stops the beats; a failing look is logged once", async () => {
    const faults = new FaultStore(new MemoryStore());
    const clock = new ManualClock(T0);
    const logger = recordingLogger();
    const { queue } = await openTestQueue({ heartbeatMs: 1_000, logger }, faults, clock);
    // A permanent error fails each look at once (a transient one would retry for minutes).
    const stopFailing = faults.addRule({
      op: "list",
      keyPrefix: "q/manifest/",
      mode: "before",
      error: () => new StorageError("listing refused", { permanent: true }),
    });
    const injected = faults.injectedCount;
    for (let i = 2; i <= 5; i++) {
      clock.advance(1_000);
      assert.equal((await storedBeatNumber(faults, i))?.counter, i, `beat ${i} written`);
      while (faults.injectedCount < injected + i - 1) await settle();
    }
    const lookFailed = (w: string) => w.includes("looking for a newer writer failed");
    assert.equal(
      logger.messages("warn").filter(lookFailed).length,
      1,
      logger.messages("warn").join("\n"),
    );
    assert.equal(queue.closed, false);
    stopFailing();

    // A listing that never answers: the look stays out, and the beats go on without it.
    const hang = faults.pause({ op: "list", keyPrefix: "q/manifest/" });
    clock.advance(1_000);
    assert.equal((await storedBeatNumber(faults, 6))?.counter, 6);
    await hang.whenHeld(1);
    for (let i = 7; i <= 9; i++) {
      clock.advance(1_000);
      assert.equal((await storedBeatNumber(faults, i))?.counter, i, `beat ${i} written`);
    }
    assert.equal(hang.held(), 1, "one look at a time");
    hang.release();
    for (let i = 0; i < 100 && logger.messages("info").length === 0; i++) await settle();
    assert.ok(
      logger.messages("info").some((m) => m.includes("works again")),
      logger.messages("info").join("\n"),
    );
    assert.equal(
      logger.messages("warn").filter(lookFailed).length,
      1,
      "still one line for the whole run",
    );
    await queue.close();
  });

  it("rejects a bad heartbeatMs before touching the store", async () => {
    const store = new MemoryStore();
    for (const bad of [0, -1, 1.5, Number.NaN, "1000"]) {
      const error = await rejection(
        openTestQueue({ heartbeatMs: bad as unknown as number }, store),
      );
      assert.equal(error.code, "INVALID_ARGUMENT");
      assert.match(error.message, /Expected `options\.heartbeatMs` to be/);
    }
    assert.deepEqual((await store.list("")).objects, []);
  });
});
