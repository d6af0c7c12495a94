/**
 * FileStore's writer thread dying after it came up: each death fails the
 * writes it had pending, and a new thread is started after a delay that
 * doubles with each death in a row; the third death in a row makes the store
 * warn once and write on the thread pool for good. A thread that answers
 * writes and then works for a while, or is ended for being idle, clears the
 * count, so one that dies now and then is always replaced. Once a thread
 * has come up, a later one that fails before it is up counts as a death.
 * Whatever killed the thread (a RangeError of an allocation that failed, a
 * TypeError), its pending writes fail as an outage does: retried.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Worker } from "node:worker_threads";
import { StorageError } from "../../src/errors.js";
import { isTransient } from "../../src/log/retry.js";
import { Queue } from "../../src/queue/queue.js";
import { FileStore } from "../../src/store/file.js";
import { FileWriter } from "../../src/store/file-writer.js";
import {
  HEALTHY_MS,
  IDLE_MS,
  MAX_DEATHS,
  RESTART_DELAY_MS,
  startWriterThread,
} from "../../src/store/file-writer-lifecycle.js";
import { recordingLogger } from "../recording-logger.js";
import { until } from "../until.js";
import { crashWriter, holdWriter, postedPuts, warningsDuring } from "./writer-thread.js";

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const text = (body: Uint8Array | undefined): string => new TextDecoder().decode(body);

/**
 * A thread that comes up and exits (code 7) at its first request, before
 * doing anything of it, as one that runs out of memory or hits a resource
 * limit would.
 */
function dyingThread(): Worker {
  return new Worker(
    `const { parentPort } = require("node:worker_threads");
parentPort.postMessage([]);
parentPort.on("message", () => process.exit(7));`,
    { eval: true, execArgv: [] },
  );
}

/**
 * A thread that comes up and never answers its first request (a write that
 * stalls: the thread stays up with it pending), and exits (code 7) at its
 * second.
 */
function stallingThread(): Worker {
  return new Worker(
    `const { parentPort } = require("node:worker_threads");
let requests = 0;
parentPort.postMessage([]);
parentPort.on("message", () => { if (++requests > 1) process.exit(7); });`,
    { eval: true, execArgv: [] },
  );
}

const EXITED = /writer thread exited with code 7/;
const CRASHED = /writer thread crashed/;
/** The warning of a store whose {@link dyingThread}s died 3 times in a row. */
const GAVE_UP_EXITED =
  "taquba FileStore: the writer thread died 3 times in a row (the FileStore writer thread exited with code 7); writes use the thread pool instead";

/** The warning of a store whose fault-injection threads were crashed 3 times in a row. */
const GAVE_UP_CRASHED =
  "taquba FileStore: the writer thread died 3 times in a row (the writer thread crashed (injected)); writes use the thread pool instead";

/**
 * A thread that fails before its first message, as one that cannot get the
 * memory it needs to start would.
 */
function failingThread(): Worker {
  return new Worker(`throw new Error("simulated: out of memory at start")`, {
    eval: true,
    execArgv: [],
  });
}

/**
 * A store on a writer whose clock the test moves. `threads(i)` starts the
 * writer's i-th thread (from 0), or throws as a start that fails does.
 * `idleMs` long by default: the thread stays up through any pause of a
 * loaded machine.
 */
function storeWith(root: string, threads: (i: number) => Worker, idleMs = 600_000) {
  // Far from 0, as the monotonic clock of a process that has run for a while: a thread's
  // time up counts from when it came up, not from the clock's origin.
  const clock = { now: 10 * HEALTHY_MS };
  /** Threads the writer tried to start, whether or not `threads` threw. */
  let starts = 0;
  const writer = new FileWriter({
    start: () => threads(starts++),
    idleMs,
    now: () => clock.now,
  });
  const store = new FileStore(root, {}, writer);
  /** Keys of the puts made by `onPool`, all acknowledged. */
  const keys: string[] = [];
  /** One put made while no thread is up (so on the pool), `step` ms after the one before. */
  const onPool = async (step: number): Promise<void> => {
    clock.now += step;
    const key = `jobs/${keys.length}`;
    await store.put(key, bytes(key), { ifNoneMatch: "*" });
    keys.push(key);
  };
  /** Writes in a row on the pool until they start a thread, which comes up. */
  const startsOne = async (): Promise<void> => {
    const before = starts;
    while (starts === before) await onPool(1);
    assert.equal(await writer.started(), true, "it came up");
  };
  /**
   * The thread just died: the writes in the `delay` after its death stay on
   * the pool and start no thread, however many; the first one after it
   * starts one, which comes up (or, if not `comesUp`, fails before it is up).
   * Keeps each write within the writer's idle time of the one before
   * (`delay` at most that).
   */
  const restartsAfter = async (delay: number, comesUp = true): Promise<void> => {
    const died = clock.now;
    const before = starts;
    // More writes in a row than start a thread otherwise.
    for (let i = 0; i < 10; i++) await onPool(1);
    clock.now = died + delay - 1;
    await onPool(0);
    assert.equal(starts, before, `no thread within ${delay} ms of the death`);
    clock.now = died + delay;
    await onPool(0);
    assert.equal(starts, before + 1, `a thread ${delay} ms after the death`);
    if (comesUp) assert.equal(await writer.started(), true, "it came up");
    // Not `started()`, which would start another at once if this one already failed.
    else await until(() => writer.thread === undefined, "it failed before it was up", 10_000);
  };
  /** The thread dies (after `kill`, if given) with a put pending: the put fails, as transient. */
  const dies = async (reason: RegExp, kill?: () => void): Promise<void> => {
    assert.ok(writer.thread !== undefined, "a thread runs");
    kill?.();
    await assert.rejects(store.put("jobs/lost", bytes("lost")), (err) => {
      assert.ok(err instanceof StorageError, String(err));
      assert.equal(err.permanent, false, "its outcome is unknown: retried");
      assert.match(err.message, reason);
      return true;
    });
    assert.equal(writer.thread, undefined, "the dead thread is gone");
  };
  /**
   * The first two threads die at their first write ({@link dyingThread}):
   * one is started and dies, the next after the first backoff and dies too,
   * and the third, after the second backoff, is up.
   */
  const diesTwice = async (): Promise<void> => {
    await startsOne();
    await dies(EXITED);
    await restartsAfter(RESTART_DELAY_MS);
    await dies(EXITED);
    await restartsAfter(2 * RESTART_DELAY_MS);
  };
  /**
   * The thread just started goes unused until it is ended for being idle
   * (the writer's own idle time, in wall time); the next one dies at its first
   * write (a second death in a row, so the longer backoff follows), and so
   * does the one after; then 20 puts, all on the pool.
   */
  const idlesOutThenDiesTwiceMore = async (): Promise<void> => {
    await until(() => writer.thread === undefined, "the idle thread ended", IDLE_MS + 10_000);
    await startsOne();
    await dies(EXITED);
    await restartsAfter(2 * RESTART_DELAY_MS);
    await dies(EXITED);
    for (let i = 0; i < 20; i++) await onPool(1);
  };
  /** 20 puts, each `step` ms after the one before, all on the thread. */
  const onThread = async (step: number): Promise<void> => {
    const posted = postedPuts(writer);
    for (let i = 0; i < 20; i++) {
      clock.now += step;
      await store.put(`thread/${clock.now}`, bytes("on the thread"), { ifNoneMatch: "*" });
    }
    assert.equal(posted.length, 20, "every put went to the thread");
  };
  return {
    clock,
    starts: () => starts,
    writer,
    store,
    keys,
    onPool,
    startsOne,
    restartsAfter,
    dies,
    diesTwice,
    idlesOutThenDiesTwiceMore,
    onThread,
  };
}

describe("FileStore writer thread that dies once up", { timeout: 60_000 }, () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "taquba-writer-deaths-"));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it("a thread that keeps dying is restarted after 1 s, then 2 s, and its third death in a row leaves the store on the pool with one warning", async () => {
    assert.equal(MAX_DEATHS, 3);
    const s = storeWith(join(dir, "keeps-dying"), dyingThread);
    const warnings = await warningsDuring(async () => {
      await s.diesTwice();
      await s.dies(EXITED);
      // Given up: every later write is on the pool and succeeds, however many in a row and
      // however long after; no thread is started again.
      for (let i = 0; i < 20; i++) await s.onPool(1);
      for (let i = 0; i < 10; i++) await s.onPool(HEALTHY_MS);
      await s.store.put("jobs/lost", bytes("found"));
      await s.store.delete(s.keys[0]!);
      assert.equal(s.starts(), 3);
      assert.equal(s.writer.thread, undefined);
      assert.equal(await s.writer.started(), false, "no thread for the store's life");
    });
    assert.deepEqual(warnings, [GAVE_UP_EXITED]);
    for (const key of s.keys.slice(1)) assert.equal(text((await s.store.get(key))?.body), key);
    assert.equal(await s.store.get(s.keys[0]!), null);
    assert.equal(text((await s.store.get("jobs/lost"))?.body), "found");
  });

  it("a thread that died once and then works keeps being used, and deaths far apart are each followed by a new thread", async () => {
    // The first thread dies at its first write; the next ones work (and can be crashed).
    const s = storeWith(join(dir, "died-once"), (i) =>
      i === 0 ? dyingThread() : startWriterThread(true),
    );
    const warnings = await warningsDuring(async () => {
      await s.startsOne();
      await s.dies(EXITED);
      await s.restartsAfter(RESTART_DELAY_MS);
      await s.onThread(1);
      // It keeps serving for a while: its death is a new problem, not the second in a row,
      // and the next thread comes after the first delay again.
      await s.onThread(HEALTHY_MS / 20);
      await s.dies(CRASHED, () => crashWriter(s.writer));
      await s.restartsAfter(RESTART_DELAY_MS);
      await s.onThread(HEALTHY_MS / 20);
      await s.dies(CRASHED, () => crashWriter(s.writer));
      await s.restartsAfter(RESTART_DELAY_MS);
      await s.onThread(1);
    });
    assert.deepEqual(warnings, [], "no warning: the store did not give up");
    assert.equal(s.starts(), 4);
    for (const key of s.keys) assert.equal(text((await s.store.get(key))?.body), key);
  });

  it("a death HEALTHY_MS - 1 after its thread came up counts with the ones before it; one HEALTHY_MS after is a first death again", async () => {
    // Every thread answers a write, and is crashed `upFor` ms after it came up (at the clock's
    // time when it is up: the clock does not move while it starts or answers).
    const s = storeWith(join(dir, "healthy-boundary"), () => startWriterThread(true));
    let served = 0;
    const servesAndDies = async (upFor: number): Promise<void> => {
      const posted = postedPuts(s.writer);
      await s.store.put(`served/${served++}`, bytes("served"));
      assert.equal(posted.length, 1, "the put went to the thread");
      s.clock.now += upFor;
      await s.dies(CRASHED, () => crashWriter(s.writer));
    };
    const warnings = await warningsDuring(async () => {
      await s.startsOne();
      await servesAndDies(0);
      await s.restartsAfter(RESTART_DELAY_MS);
      await servesAndDies(HEALTHY_MS - 1);
      // The second in a row: the longer backoff.
      await s.restartsAfter(2 * RESTART_DELAY_MS);
      await servesAndDies(HEALTHY_MS);
      // A first death: the first backoff, and two more in a row to give up.
      await s.restartsAfter(RESTART_DELAY_MS);
      await servesAndDies(HEALTHY_MS - 1);
      await s.restartsAfter(2 * RESTART_DELAY_MS);
      await servesAndDies(0);
    });
    assert.deepEqual(warnings, [GAVE_UP_CRASHED]);
    assert.equal(s.starts(), 5);
  });

  it("a thread up for HEALTHY_MS that never answered a write (its first one stalled) does not clear the count when it dies", async () => {
    const s = storeWith(join(dir, "stalled-healthy"), stallingThread);
    /** A put stalls on the thread, which stays up HEALTHY_MS with it and dies at the next put. */
    const stallsAndDies = async (): Promise<void> => {
      const posted = postedPuts(s.writer);
      const stalled = assert.rejects(s.store.put("jobs/stalled", bytes("stalled")), EXITED);
      await until(() => posted.length === 1, "the stalled put reached the thread", 10_000);
      s.clock.now += HEALTHY_MS;
      await s.dies(EXITED);
      await stalled;
    };
    const warnings = await warningsDuring(async () => {
      await s.startsOne();
      await stallsAndDies();
      await s.restartsAfter(RESTART_DELAY_MS);
      await stallsAndDies();
      // The second in a row: the longer backoff.
      await s.restartsAfter(2 * RESTART_DELAY_MS);
      await stallsAndDies();
      for (let i = 0; i < 20; i++) await s.onPool(1);
    });
    assert.deepEqual(warnings, [GAVE_UP_EXITED]);
    assert.equal(s.starts(), 3);
    assert.equal(s.writer.thread, undefined);
    assert.equal(await s.writer.started(), false, "no thread for the store's life");
    for (const key of s.keys) assert.equal(text((await s.store.get(key))?.body), key);
  });

  it("a thread ended for being idle clears the count: the next death is the first in a row", async () => {
    // Two threads die, the third works until it is ended for being idle (the store's own idle
    // time, in wall time), the fourth dies.
    const s = storeWith(
      join(dir, "idle-clears"),
      (i) => (i === 2 ? startWriterThread() : dyingThread()),
      IDLE_MS,
    );
    assert.ok(2 * RESTART_DELAY_MS <= IDLE_MS, "the backoff's writes stay in a row");
    const warnings = await warningsDuring(async () => {
      await s.diesTwice();
      await s.onThread(1);
      await until(() => s.writer.thread === undefined, "the idle thread ended", IDLE_MS + 10_000);
      await s.startsOne();
      await s.dies(EXITED);
      await s.restartsAfter(RESTART_DELAY_MS);
    });
    assert.deepEqual(warnings, [], "no warning: three deaths, but not in a row");
    assert.equal(s.starts(), 5);
  });

  it("a thread ended for being idle that never answered a write does not clear the count", async () => {
    // Every thread dies at its first write. The second comes up after the writes that started
    // it and gets none (a burst that ended before it was up): it proves nothing about the
    // threads, and the deaths around it are in a row.
    const s = storeWith(join(dir, "idle-unserved"), dyingThread, IDLE_MS);
    const warnings = await warningsDuring(async () => {
      await s.startsOne();
      await s.dies(EXITED);
      await s.restartsAfter(RESTART_DELAY_MS);
      await s.idlesOutThenDiesTwiceMore();
    });
    assert.deepEqual(warnings, [GAVE_UP_EXITED]);
    assert.equal(s.starts(), 4);
    assert.equal(await s.writer.started(), false, "no thread for the store's life");
  });

  it("a thread that answered writes and died does not make the next, which idles out unused, clear the count", async () => {
    // The first thread answers writes and is crashed. The second comes up after the writes that
    // started it and gets none, so it is ended for being idle (the store's own idle time, in
    // wall time) having answered nothing. The ones after it die at their first write.
    const s = storeWith(
      join(dir, "served-then-unused"),
      (i) => (i === 0 ? startWriterThread(true) : dyingThread()),
      IDLE_MS,
    );
    const warnings = await warningsDuring(async () => {
      await s.startsOne();
      await s.onThread(1);
      await s.dies(CRASHED, () => crashWriter(s.writer));
      await s.restartsAfter(RESTART_DELAY_MS);
      await s.idlesOutThenDiesTwiceMore();
    });
    assert.deepEqual(warnings, [GAVE_UP_EXITED]);
    assert.equal(s.starts(), 4);
    assert.equal(await s.writer.started(), false, "no thread for the store's life");
  });

  it("a later thread that fails before it is up counts as a death in a row: backed off, and one that comes up after it is used", async () => {
    // The first thread comes up and dies at its first write; the second fails before it is up
    // (the memory squeeze goes on); the third works.
    const s = storeWith(join(dir, "restart-fails"), (i) =>
      i === 0 ? dyingThread() : i === 1 ? failingThread() : startWriterThread(),
    );
    const warnings = await warningsDuring(async () => {
      await s.startsOne();
      await s.dies(EXITED);
      await s.restartsAfter(RESTART_DELAY_MS, false);
      await s.restartsAfter(2 * RESTART_DELAY_MS);
      await s.onThread(1);
    });
    assert.deepEqual(warnings, [], "no warning: the store did not give up");
    assert.equal(s.starts(), 3);
    for (const key of s.keys) assert.equal(text((await s.store.get(key))?.body), key);
  });

  it("started() on a restart that fails before it is up resolves to false, and the failure is the second death in a row", async () => {
    // The first thread comes up and dies at its first write; the second fails before it is up;
    // the third works.
    const s = storeWith(join(dir, "started-restart-fails"), (i) =>
      i === 0 ? dyingThread() : i === 1 ? failingThread() : startWriterThread(),
    );
    const warnings = await warningsDuring(async () => {
      await s.startsOne();
      await s.dies(EXITED);
      // Starts the second thread at once (skipping the backoff) and waits for it: the wait
      // ends when it fails. Bounded here, so a wait that never ends fails the test.
      let up: boolean | undefined;
      void s.writer.started().then((result) => {
        up = result;
      });
      await until(() => up !== undefined, "started() resolved", 10_000);
      assert.equal(up, false, "the restart is not up");
      assert.equal(s.starts(), 2);
      assert.equal(s.writer.thread, undefined, "the failed thread is gone");
      // The second death in a row: the longer backoff, then a thread that works.
      await s.restartsAfter(2 * RESTART_DELAY_MS);
      await s.onThread(1);
    });
    assert.deepEqual(warnings, [], "no warning: the store did not give up");
    assert.equal(s.starts(), 3);
    for (const key of s.keys) assert.equal(text((await s.store.get(key))?.body), key);
  });

  it("later threads that fail at their start, in the thread or as it is made, give up at the third death in a row, with one warning", async () => {
    const s = storeWith(join(dir, "restarts-fail"), (i) => {
      if (i === 0) return dyingThread();
      if (i === 1) return failingThread();
      throw new Error("simulated: resource limit at start");
    });
    const warnings = await warningsDuring(async () => {
      await s.startsOne();
      await s.dies(EXITED);
      await s.restartsAfter(RESTART_DELAY_MS, false);
      await s.restartsAfter(2 * RESTART_DELAY_MS, false);
      for (let i = 0; i < 20; i++) await s.onPool(1);
      for (let i = 0; i < 10; i++) await s.onPool(HEALTHY_MS);
    });
    assert.deepEqual(warnings, [
      "taquba FileStore: the writer thread died 3 times in a row (simulated: resource limit at start); writes use the thread pool instead",
    ]);
    assert.equal(s.starts(), 3);
    assert.equal(await s.writer.started(), false, "no thread for the store's life");
    for (const key of s.keys) assert.equal(text((await s.store.get(key))?.body), key);
  });
});

/**
 * A thread that comes up and throws an uncaught `as` at its first put or
 * delete, before doing anything of it: a thread that runs out of memory
 * (RangeError: Array buffer allocation failed) or crashes.
 */
function throwingThread(as: "RangeError" | "TypeError"): Worker {
  return new Worker(
    `const { parentPort } = require("node:worker_threads");
parentPort.postMessage([]);
parentPort.on("message", (m) => {
  if (m.op === "put" || m.op === "delete") throw new ${as}("Array buffer allocation failed");
});`,
    { eval: true, execArgv: [] },
  );
}

const RETRY_WARNING = "store request failed; retrying with backoff";

describe("FileStore writer thread killed by a RangeError or a TypeError", {
  timeout: 60_000,
}, () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "taquba-writer-killed-"));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  for (const as of ["RangeError", "TypeError"] as const) {
    it(`${as}: the write pending on it fails as transient, as a death of the thread, and names the error`, async () => {
      const writer = new FileWriter({ start: () => throwingThread(as), idleMs: 600_000 });
      assert.equal(await writer.started(), true);
      const store = new FileStore(join(dir, `put-${as}`), {}, writer);
      const error = await store.put("jobs/1", bytes("x"), { ifNoneMatch: "*" }).then(
        () => assert.fail("the put was pending on the thread that died"),
        (err: unknown) => err,
      );
      assert.ok(error instanceof StorageError, String(error));
      assert.equal(error.permanent, false, error.message);
      assert.equal(isTransient(error), true);
      assert.match(
        error.message,
        new RegExp(`the FileStore writer thread died: ${as}: Array buffer allocation failed`),
      );
      assert.doesNotMatch(error.message, /not a store outage/);
      // The retry takes the pool (no new thread within the backoff) and lands.
      await store.put("jobs/1", bytes("x"), { ifNoneMatch: "*" });
      assert.equal(text((await store.get("jobs/1"))?.body), "x");
      await store.close();
    });

    it(`${as}: Queue.open on a store whose thread dies at its first write opens after one warning`, async () => {
      const writer = new FileWriter({ start: () => throwingThread(as), idleMs: 600_000 });
      assert.equal(await writer.started(), true);
      const store = new FileStore(join(dir, `open-${as}`), {}, writer);
      const logger = recordingLogger();
      const queue = await Queue.open(store, "q", { logger });
      assert.deepEqual(logger.messages("warn"), [RETRY_WARNING]);
      assert.deepEqual(logger.messages("error"), []);
      const id = await queue.enqueue("jobs", "hello");
      await queue.close();
      await store.close();
      const again = new FileStore(join(dir, `open-${as}`));
      const reopened = await Queue.open(again, "q", { logger });
      assert.equal((await reopened.claim("jobs"))?.id, id);
      await reopened.close();
      await again.close();
    });

    it(`${as}: a live enqueue whose WAL create was pending on the thread that died is acknowledged after one warning`, async () => {
      const root = join(dir, `live-${as}`);
      const writer = new FileWriter({ start: () => startWriterThread(true), idleMs: 600_000 });
      assert.equal(await writer.started(), true);
      const store = new FileStore(root, {}, writer);
      const logger = recordingLogger();
      const queue = await Queue.open(store, "q", { logger });
      assert.deepEqual(
        logger.lines.filter((line) => line.level !== "debug"),
        [],
      );
      // The thread is held, then crashes when it reaches the crash, which is posted before
      // the WAL create: the create is pending on it and never placed.
      const release = await holdWriter(writer);
      crashWriter(writer, as);
      const posted = postedPuts(writer);
      const enqueued = queue.enqueue("jobs", "kept");
      await until(() => posted.some((file) => file.includes("wal")), "the WAL create posted");
      release();
      const id = await enqueued;
      assert.deepEqual(logger.messages("warn"), [RETRY_WARNING]);
      const warned = logger.at("warn")[0]!.fields?.error;
      assert.match(
        String(warned),
        new RegExp(`writer thread died: ${as}: the writer thread crashed`),
      );
      assert.deepEqual(logger.messages("error"), []);
      const next = await queue.enqueue("jobs", "next");
      await queue.close();
      await store.close();
      const again = new FileStore(root);
      const reopened = await Queue.open(again, "q", { logger });
      assert.equal((await reopened.claim("jobs"))?.id, id);
      assert.equal((await reopened.claim("jobs"))?.id, next);
      assert.equal(await reopened.claim("jobs"), null);
      await reopened.close();
      await again.close();
    });
  }
});
