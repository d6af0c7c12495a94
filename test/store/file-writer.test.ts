/**
 * FileStore's writer thread: the thread that makes a put's or delete's system
 * calls in one hand-off. It may die and is replaced; two stores on one
 * directory still race for a key through the link; it never holds the
 * process open while idle; the caller's buffer is copied, not taken; a store
 * whose thread cannot start writes through the thread pool instead.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, readdir, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { InvalidArgumentError, StorageError } from "../../src/errors.js";
import { DEFAULT_PAYLOAD_OFFLOAD_BYTES } from "../../src/queue/payloads.js";
import { Queue } from "../../src/queue/queue.js";
import { FileStore } from "../../src/store/file.js";
import { FileWriter, THREAD_MAX_BODY, THREAD_MAX_PENDING } from "../../src/store/file-writer.js";
import {
  HEALTHY_MS,
  IDLE_MS,
  MAX_DEATHS,
  RESTART_DELAY_MS,
  SPARE_IDLE_MS,
  startWriterThread,
} from "../../src/store/file-writer-lifecycle.js";
import { ObjectExistsError } from "../../src/store/types.js";
import { writesComing } from "../../src/store/write-hint.js";
import { until } from "../until.js";
import {
  crashWriter,
  holdWriter,
  postedPuts,
  queueHold,
  storeOnPool,
  storeOnThread,
  warningsDuring,
} from "./writer-thread.js";

const IDLE_WRITER = fileURLToPath(new URL("./fixtures/idle-writer.js", import.meta.url));

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const text = (body: Uint8Array | undefined): string => new TextDecoder().decode(body);

/** Runs the idle-writer fixture; resolves with its exit code, stdout and how long it ran. */
function runChild(
  directory: string,
  mode: "idle" | "pending" | "stalled",
): Promise<{ code: number | null; stdout: string; ms: number }> {
  const started = performance.now();
  const child = spawn(process.execPath, [IDLE_WRITER, directory, mode], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  let stdout = "";
  child.stdout.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  const killer = setTimeout(() => child.kill("SIGKILL"), 20_000);
  return new Promise((resolve) =>
    child.on("close", (code) => {
      clearTimeout(killer);
      resolve({ code, stdout, ms: performance.now() - started });
    }),
  );
}

describe("FileStore writer thread", { timeout: 60_000 }, () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "taquba-writer-"));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it("a thread that dies fails its pending writes as transient, and the next write starts a new one", async () => {
    const { store, writer } = await storeOnThread(join(dir, "dies"), {}, true);
    await store.put("jobs/first", bytes("first"), { ifNoneMatch: "*" });
    const first = writer.thread!;
    // Many writes in flight (those on the thread held there: a put reaches the thread within
    // its call), then the thread is killed under them.
    await holdWriter(writer);
    const writes = Array.from({ length: 200 }, (_, i) =>
      store.put(`jobs/${i}`, bytes(`body ${i}`), { ifNoneMatch: "*" }).then(
        () => "written" as const,
        (err: unknown) => err,
      ),
    );
    await first.terminate();
    const outcomes = await Promise.all(writes);
    const failures = outcomes.filter((outcome) => outcome !== "written");
    assert.ok(failures.length > 0, "the thread died with writes pending");
    for (const err of failures) {
      assert.ok(err instanceof StorageError, String(err));
      assert.equal(err.permanent, false, "retried like any transient failure");
      assert.match(err.message, /put "jobs\/\d+" failed: .*writer thread exited/);
    }
    // The next writes work (through the pool until another thread is up), and so do retries
    // of the failed ones.
    await store.put("jobs/after", bytes("after"), { ifNoneMatch: "*" });
    assert.equal(await writer.started(), true, "another thread starts");
    assert.notEqual(writer.thread, first);
    assert.equal(text((await store.get("jobs/after"))?.body), "after");
    for (let i = 0; i < outcomes.length; i++) {
      if (outcomes[i] === "written") {
        assert.equal(text((await store.get(`jobs/${i}`))?.body), `body ${i}`);
        continue;
      }
      // Either it took effect before the thread died (exists, with this body) or it did not.
      await store.put(`jobs/${i}`, bytes(`body ${i}`), { ifNoneMatch: "*" }).catch((err) => {
        assert.ok(err instanceof ObjectExistsError, String(err));
      });
      assert.equal(text((await store.get(`jobs/${i}`))?.body), `body ${i}`);
    }
    await store.delete("jobs/after");
    assert.equal(await store.get("jobs/after"), null);
  });

  it("a thread terminated in the middle of a batch fails every write it had, and later writes work", async () => {
    const { store, writer } = await storeOnThread(join(dir, "mid-batch"), {}, true);
    await store.put("jobs/first", bytes("first"), { ifNoneMatch: "*" });
    const first = writer.thread!;
    // While the thread is held, two puts, a second hold and two more queue up (as many
    // writes as it takes at once); released, it runs them as one batch and stops at the
    // second hold, as at a slow system call, with the first two placed and not answered.
    assert.equal(THREAD_MAX_PENDING, 4);
    const releaseFirst = await holdWriter(writer);
    const posted = postedPuts(writer);
    const put = (i: number) =>
      store.put(`jobs/${i}`, bytes(`body ${i}`), { ifNoneMatch: "*" }).then(
        () => assert.fail(`jobs/${i} answered although the thread never finished its batch`),
        (err: unknown) => err,
      );
    const placed = [put(0), put(1)];
    await until(() => posted.length === 2, "the first two puts posted");
    queueHold(writer);
    const queued = [put(2), put(3)];
    await until(() => posted.length === 4, "all four puts posted");
    releaseFirst();
    await until(
      () =>
        stat(posted[1]!).then(
          () => true,
          () => false,
        ),
      "the first two puts placed",
    );
    await first.terminate();
    for (const err of await Promise.all([...placed, ...queued])) {
      assert.ok(err instanceof StorageError, String(err));
      assert.equal(err.permanent, false, "its outcome is unknown: retried");
      assert.match(err.message, /put "jobs\/\d+" failed: .*writer thread exited/);
    }
    for (let i = 0; i < 4; i++) {
      const found = text((await store.get(`jobs/${i}`))?.body);
      assert.equal(found, i < 2 ? `body ${i}` : "", `jobs/${i}`);
    }
    // Later writes go through the pool, then through a new thread.
    await store.put("jobs/after", bytes("after"), { ifNoneMatch: "*" });
    assert.equal(await writer.started(), true, "another thread starts");
    assert.notEqual(writer.thread, first);
    const again = postedPuts(writer);
    await store.put("jobs/3", bytes("body 3"), { ifNoneMatch: "*" });
    assert.equal(again.length, 1, "written by the new thread");
    assert.equal(text((await store.get("jobs/3"))?.body), "body 3");
    assert.equal(text((await store.get("jobs/after"))?.body), "after");
  });

  it("two stores on one directory creating the same keys at once: exactly one create of each wins", async () => {
    const root = join(dir, "race");
    // One through its thread, one through the pool.
    const { store: left } = await storeOnThread(root);
    const right = new FileStore(root);
    const keys = Array.from({ length: 100 }, (_, i) => `wal/${String(i).padStart(4, "0")}`);
    const attempt = (store: FileStore, side: string, key: string) =>
      store.put(key, bytes(`${side} ${key}`), { ifNoneMatch: "*" }).then(
        () => side,
        (err: unknown) => {
          assert.ok(err instanceof ObjectExistsError, String(err));
          return undefined;
        },
      );
    const winners = await Promise.all(
      keys.map(async (key) => {
        const [a, b] = await Promise.all([
          attempt(left, "left", key),
          attempt(right, "right", key),
        ]);
        assert.ok((a === undefined) !== (b === undefined), `exactly one create of ${key} won`);
        return { key, winner: a ?? b };
      }),
    );
    for (const { key, winner } of winners) {
      const expected = `${winner} ${key}`;
      assert.equal(text((await left.get(key))?.body), expected);
      assert.equal(text((await right.get(key))?.body), expected);
    }
    // Losers removed their temp files; the thread's spare goes once the store stops writing.
    await until(
      async () => (await readdir(join(root, ".tmp"))).length === 0,
      "no temp file left",
      SPARE_IDLE_MS + 10_000,
    );
  });

  it("without fsync: creates, overwrites and deletes, with the same answers", async () => {
    const { store } = await storeOnThread(join(dir, "nosync"), { fsync: false });
    await store.put("a/b", bytes("one"), { ifNoneMatch: "*" });
    await assert.rejects(store.put("a/b", bytes("two"), { ifNoneMatch: "*" }), ObjectExistsError);
    assert.equal(text((await store.get("a/b"))?.body), "one");
    await store.put("a/b", bytes("three"));
    assert.equal(text((await store.get("a/b"))?.body), "three");
    await store.delete("a/b");
    await store.delete("a/b");
    assert.equal(await store.get("a/b"), null);
    await until(
      async () => (await readdir(join(dir, "nosync", ".tmp"))).length === 0,
      "no temp file left",
      SPARE_IDLE_MS + 10_000,
    );
  });

  it("copies the caller's body: its buffer is never detached, and only the body's bytes are written", async () => {
    const { store } = await storeOnThread(join(dir, "copies"));
    const whole = Buffer.from("xxhello worldxx");
    const body = whole.subarray(2, 13);
    await store.put("k", body);
    assert.equal(whole.buffer.byteLength >= 15, true, "not detached");
    assert.equal(whole.toString(), "xxhello worldxx");
    assert.equal(text((await store.get("k"))?.body), "hello world");
    // Still the caller's to reuse.
    body.fill(0x21);
    await store.put("k", body);
    assert.equal(text((await store.get("k"))?.body), "!!!!!!!!!!!");
  });

  it("a process whose store is idle exits at once; a pending write keeps it alive until written", async () => {
    const idle = await runChild(join(dir, "idle-child"), "idle");
    assert.equal(idle.code, 0);
    assert.equal(idle.stdout, "written\n");
    // Far less than the fixture thread's idle time (10 min): the idle thread does not hold
    // the process.
    assert.ok(idle.ms < 8_000, `exited after ${idle.ms} ms`);
    const written = new FileStore(join(dir, "idle-child"));
    assert.ok((await written.get("jobs/0")) !== null);
    assert.equal(await written.get("jobs/1"), null);
    const pending = await runChild(join(dir, "pending-child"), "pending");
    assert.equal(pending.code, 0);
    assert.equal(pending.stdout, "written\n", "the process waited for its pending put");
  });

  it("a write on a thread that never answers stops keeping the process alive once its caller's time limit passes", async () => {
    const stalled = await runChild(join(dir, "stalled-child"), "stalled");
    assert.equal(stalled.stdout, "STORAGE\n", "the put timed out");
    assert.equal(stalled.code, 0, "the process exited by itself");
    assert.ok(stalled.ms < 8_000, `exited after ${stalled.ms} ms`);
  });

  it("close() ends the thread at once once its writes are answered, removes its spare temp file, and leaves the store usable on the pool; Queue.close leaves the store open", async () => {
    const root = join(dir, "closed");
    const writer = new FileWriter();
    assert.equal(await writer.started(), true);
    const store = new FileStore(root, {}, writer);
    const queue = await Queue.open(store, "q", { logger: { warn: () => {}, error: () => {} } });
    for (let i = 0; i < 5; i++) await queue.enqueue("work", `job ${i}`);
    await queue.close();
    // The queue was given the store: it does not close it.
    assert.notEqual(writer.thread, undefined, "the thread still runs after Queue.close");
    const thread = writer.thread!;
    const exited = new Promise((resolve) => thread.once("exit", resolve));
    // A put on the thread while the store closes is answered, not failed.
    const [put] = await Promise.allSettled([store.put("late", bytes("late")), store.close()]);
    assert.equal(put.status, "fulfilled");
    await exited;
    assert.equal(writer.thread, undefined);
    assert.deepEqual(await readdir(join(root, ".tmp")), [], "no spare temp file left");
    // Still usable, on the pool: no thread comes back.
    for (let i = 0; i < 20; i++) await store.put(`after/${i}`, bytes("x"));
    assert.equal(text((await store.get("late"))?.body), "late");
    assert.equal(writer.thread, undefined);
    await store.close(); // idempotent
    const reopened = await Queue.open(store, "q", { logger: { warn: () => {}, error: () => {} } });
    assert.equal((await reopened.stats("work")).pending, 5);
    await reopened.close();
  });

  it("a store that stops writing (its queue closed) ends its thread within seconds", async () => {
    // The store's own idle time, as every store has.
    const writer = new FileWriter();
    assert.equal(await writer.started(), true);
    const store = new FileStore(join(dir, "idle-out"), {}, writer);
    await store.put("jobs/1", bytes("one"), { ifNoneMatch: "*" });
    const thread = writer.thread!;
    const exited = new Promise((resolve) => thread.once("exit", resolve));
    const idleFrom = performance.now();
    await until(() => writer.thread === undefined, "the idle thread ended", 10_000);
    await exited;
    assert.ok(performance.now() - idleFrom >= IDLE_MS - 50, "not before its idle time");
    // The store still writes: on the pool, then on a new thread.
    await store.put("jobs/2", bytes("two"), { ifNoneMatch: "*" });
    assert.equal(text((await store.get("jobs/2"))?.body), "two");
  });

  it("a put under a directory the store knows reaches the thread within its call", async () => {
    // Once the temp folder and the object's directory are known to be there, nothing is
    // awaited before the hand-off: the thread starts on the put while its caller goes on.
    const { store, writer } = await storeOnThread(join(dir, "within-call"));
    const posted = postedPuts(writer);
    const first = store.put("wal/1", bytes("one"), { ifNoneMatch: "*" });
    assert.equal(posted.length, 0, "the first put of a store waits for its folders");
    await first;
    const second = store.put("wal/2", bytes("two"), { ifNoneMatch: "*" });
    assert.equal(posted.length, 2, "posted before the call returned");
    const elsewhere = store.put("other/1", bytes("three"), { ifNoneMatch: "*" });
    assert.equal(posted.length, 2, "a put in a new directory waits for it to be made");
    await Promise.all([second, elsewhere]);
    assert.equal(posted.length, 3);
    assert.equal(text((await store.get("wal/2"))?.body), "two");
    assert.equal(text((await store.get("other/1"))?.body), "three");
  });

  it("a write whose caller's deadline passed before it reached the thread is not posted", async () => {
    const { writer } = await storeOnThread(join(dir, "late"));
    const posted = postedPuts(writer);
    const late = new Error("timed out before it was posted");
    const file = join(dir, "late", "late-object");
    const request = {
      op: "put" as const,
      temp: join(dir, "late", "late.tmp"),
      file,
      dir: join(dir, "late"),
      create: true,
      fsync: true,
      body: bytes("late"),
    };
    await assert.rejects(writer.write(request, AbortSignal.abort(late)), (err) => err === late);
    assert.equal(posted.length, 0);
    await assert.rejects(stat(file), { code: "ENOENT" });
  });

  it("a thread that never comes up: whoever waits for it learns so after the idle time", async () => {
    let starts = 0;
    const writer = new FileWriter({
      start: () => {
        starts++;
        // A thread stuck before its first message, as under a preload that hangs.
        return new Worker("setInterval(() => {}, 1000);", { eval: true, execArgv: [] });
      },
      idleMs: 100,
    });
    let up: boolean | undefined;
    void writer.started().then((result) => {
      up = result;
    });
    await until(() => up !== undefined, "started() settled", 10_000);
    assert.equal(up, false);
    assert.equal(writer.thread, undefined, "the stuck thread was ended");
    // Writes use the pool meanwhile.
    const store = new FileStore(join(dir, "never-up"), {}, writer);
    await store.put("a", bytes("a"), { ifNoneMatch: "*" });
    assert.equal(text((await store.get("a"))?.body), "a");
    assert.equal(starts, 1);
  });

  it("a body whose buffer the caller detached fails that put only; nothing of it stays pending", async () => {
    // The store's own idle time: a thread that has not come up within the idle time counts as
    // never up, and a loaded machine can take a few hundred milliseconds to start one.
    const writer = new FileWriter();
    assert.equal(await writer.started(), true);
    const store = new FileStore(join(dir, "detached"), {}, writer);
    await store.put("a", bytes("a"));
    const buffer = new ArrayBuffer(8);
    const body = new Uint8Array(buffer);
    structuredClone(buffer, { transfer: [buffer] });
    // A caller's mistake, not a storage failure that a retry could mend.
    await assert.rejects(store.put("b", body), (err) => {
      assert.ok(err instanceof InvalidArgumentError, String(err));
      assert.match(
        err.message,
        /Expected `body` of put "b" to be .* got one whose buffer was .*detached/,
      );
      return true;
    });
    await store.put("c", bytes("c"));
    assert.equal(text((await store.get("c"))?.body), "c");
    assert.equal(await store.get("b"), null);
    // The same on the thread pool's path.
    const onPool = storeOnPool(join(dir, "detached-pool"));
    await assert.rejects(onPool.put("b", body), InvalidArgumentError);
    assert.equal(await onPool.get("b"), null);
    // A write left pending would keep the thread (and the process) up.
    await until(() => writer.thread === undefined, "the idle thread ended", IDLE_MS + 10_000);
  });

  /** A store's whole repertoire, checked. */
  async function exercise(store: FileStore): Promise<void> {
    await store.put("wal/1", bytes("one"), { ifNoneMatch: "*" });
    await assert.rejects(store.put("wal/1", bytes("two"), { ifNoneMatch: "*" }), ObjectExistsError);
    await store.put("cp/1", new Uint8Array(2 << 20).fill(9));
    assert.equal((await store.head("cp/1"))?.size, 2 << 20);
    for (let i = 0; i < 40; i++) await store.put(`jobs/${i}`, bytes(`job ${i}`));
    await store.delete("jobs/0");
    assert.equal(await store.get("jobs/0"), null);
    assert.equal(text((await store.get("jobs/39"))?.body), "job 39");
    assert.equal(text((await store.get("wal/1"))?.body), "one");
  }

  it("a thread that cannot be started (threads forbidden): one warning, and writes use the pool", async () => {
    let starts = 0;
    const writer = new FileWriter({
      start: () => {
        starts++;
        throw Object.assign(new Error("Access to this API has been restricted"), {
          code: "ERR_ACCESS_DENIED",
        });
      },
      startAfter: 1,
    });
    const store = new FileStore(join(dir, "forbidden"), {}, writer);
    const warnings = await warningsDuring(() => exercise(store));
    assert.equal(starts, 1, "tried once, for the store's life");
    assert.equal(writer.thread, undefined);
    assert.equal(await writer.started(), false);
    assert.deepEqual(warnings, [
      "taquba FileStore: the writer thread could not start (Access to this API has been restricted); writes use the thread pool instead",
    ]);
  });

  it("a thread that fails before its first answer (a rewritten source): one warning, and writes use the pool", async () => {
    let starts = 0;
    const writer = new FileWriter({
      start: () => {
        starts++;
        // What a bundler's helper missing from the thread's source does.
        return new Worker("__name(function f() {});", { eval: true, execArgv: [] });
      },
      startAfter: 1,
    });
    const store = new FileStore(join(dir, "rewritten"), {}, writer);
    const warnings = await warningsDuring(async () => {
      assert.equal(await writer.started(), false, "the thread never came up");
      await exercise(store);
    });
    assert.equal(starts, 1, "tried once, for the store's life");
    assert.equal(warnings.length, 1, warnings.join("\n"));
    assert.match(
      warnings[0]!,
      /writer thread could not start \(__name is not defined\); writes use the thread pool/,
    );
  });

  it("a store's writes start its thread only after a few in a row, and then bodies over 64 KiB (offloaded payloads) use the pool", async () => {
    const starts: Worker[] = [];
    let now = 0;
    const writer = new FileWriter({
      start: () => {
        const thread = startWriterThread();
        starts.push(thread);
        return thread;
      },
      now: () => now,
    });
    const store = new FileStore(join(dir, "lazy"), {}, writer);
    // Each write further from the one before than a thread would stay idle: none starts it.
    for (let i = 0; i < 8; i++) {
      await store.put(`jobs/${i}`, bytes(`job ${i}`));
      now += IDLE_MS + 1;
    }
    assert.equal(starts.length, 0, "a store that writes rarely holds no thread");
    for (let i = 0; i < 7; i++) {
      await store.put(`burst/${i}`, bytes(`burst ${i}`));
      now += IDLE_MS;
    }
    assert.equal(starts.length, 0, "seven writes in a row are not enough");
    await store.put("burst/7", bytes("burst 7"));
    assert.equal(starts.length, 1, "the eighth write in a row starts it");
    await exercise(store);
    assert.equal(starts.length, 1);
    assert.equal(await writer.started(), true);
    // A body over the limit is not handed (copied) to the thread, where the log's small
    // creates would wait behind its write and fsync: it is written as is, on the pool. The
    // smallest payload the queue offloads is over the limit.
    const posted = postedPuts(writer);
    await store.put("payloads/1", new Uint8Array(DEFAULT_PAYLOAD_OFFLOAD_BYTES).fill(2));
    await store.put("cp/2", new Uint8Array(THREAD_MAX_BODY + 1).fill(3));
    await store.put("wal/2", new Uint8Array(THREAD_MAX_BODY).fill(4), { ifNoneMatch: "*" });
    assert.equal(posted.length, 1, "only the put of at most 64 KiB went to the thread");
    assert.match(posted[0]!, /wal[^/]*\/2$/);
    assert.equal((await store.get("payloads/1"))?.body.byteLength, DEFAULT_PAYLOAD_OFFLOAD_BYTES);
    assert.equal((await store.get("cp/2"))?.body.byteLength, THREAD_MAX_BODY + 1);
    assert.deepEqual((await store.get("wal/2"))?.body, new Uint8Array(THREAD_MAX_BODY).fill(4));
  });

  it("a store told twice within the idle time that writes are coming starts its thread at once; hints further apart than that start none", async () => {
    let starts = 0;
    let now = 0;
    const writer = new FileWriter({
      start: () => {
        starts++;
        return startWriterThread(true);
      },
      now: () => now,
    });
    const store = new FileStore(join(dir, "coming"), {}, writer);
    // One hint is one batch with several callers: a burst, maybe alone.
    writesComing(store);
    assert.equal(starts, 0, "one hint starts none");
    // Bursts further apart than a thread would stay idle: each would start a thread that
    // serves nothing and is ended before the next.
    now += IDLE_MS + 1;
    writesComing(store);
    assert.equal(starts, 0, "two bursts further apart than the idle time start none");
    now += IDLE_MS;
    writesComing(store);
    assert.equal(starts, 1, "a second hint within the idle time starts it, without a write");
    assert.equal(await writer.started(), true);
    writesComing(store);
    assert.equal(starts, 1, "a thread up is not started again");
    // Its thread dies: no new one during the backoff, however many hints.
    crashWriter(writer);
    await until(() => writer.thread === undefined, "the thread is gone");
    for (let i = 0; i < 3; i++) writesComing(store);
    now += RESTART_DELAY_MS - 1;
    writesComing(store);
    assert.equal(starts, 1, "none during the backoff");
    // Once it is over, the next hint starts one, and only one.
    now += 1;
    writesComing(store);
    writesComing(store);
    assert.equal(starts, 2, "the hint after the backoff starts one thread");
    assert.equal(await writer.started(), true);
    await store.close();
  });

  it("a hint starts no thread on a closed store, nor on one that gave up on threads", async () => {
    let now = 0;
    let starts = 0;
    // Closed, with no death and no backoff running: only the close stops the hint.
    const closedWriter = new FileWriter({
      start: () => {
        starts++;
        return startWriterThread(true);
      },
      now: () => now,
    });
    const closed = new FileStore(join(dir, "coming-closed"), {}, closedWriter);
    writesComing(closed);
    await closed.close();
    writesComing(closed);
    assert.equal(starts, 0, "a closed store starts none");
    // A store whose first thread cannot start gives up on threads: later hints, past any
    // backoff, start none.
    let tries = 0;
    const failing = new FileWriter({
      start: () => {
        tries++;
        throw new Error("threads are not allowed here");
      },
      now: () => now,
    });
    const gaveUp = new FileStore(join(dir, "coming-gave-up"), {}, failing);
    const warnings = await warningsDuring(async () => {
      writesComing(gaveUp);
      writesComing(gaveUp);
      assert.equal(tries, 1);
      for (let i = 0; i < 3; i++) {
        now += HEALTHY_MS;
        writesComing(gaveUp);
        writesComing(gaveUp);
      }
    });
    assert.equal(tries, 1, "given up: no further start");
    assert.equal(warnings.length, 1, warnings.join("\n"));
    // A store that gave up after MAX_DEATHS threads died: no hint starts another.
    let deaths = 0;
    const dying = new FileWriter({
      start: () => {
        deaths++;
        return startWriterThread(true);
      },
      now: () => now,
    });
    const died = new FileStore(join(dir, "coming-died"), {}, dying);
    const lastWarnings = await warningsDuring(async () => {
      for (let i = 0; i < MAX_DEATHS; i++) {
        now += RESTART_DELAY_MS * 2 ** i + 1;
        writesComing(died);
        writesComing(died);
        assert.equal(await dying.started(), true);
        crashWriter(dying);
        await until(() => dying.thread === undefined, "the thread is gone");
      }
      for (let i = 0; i < 3; i++) {
        now += HEALTHY_MS;
        writesComing(died);
        writesComing(died);
      }
    });
    assert.equal(deaths, MAX_DEATHS, "given up after the last death: no further start");
    assert.equal(lastWarnings.length, 1, lastWarnings.join("\n"));
    await died.close();
  });

  it("a queue taking concurrent enqueues has its thread started by its log's hint, before the store's eighth write", async () => {
    let starts = 0;
    let writesAtStart = -1;
    const store = new (class extends FileStore {
      writes = 0;
      override put(...args: Parameters<FileStore["put"]>): ReturnType<FileStore["put"]> {
        this.writes++;
        return super.put(...args);
      }
    })(
      join(dir, "concurrent"),
      {},
      new FileWriter({
        start: () => {
          starts++;
          writesAtStart = store.writes;
          return startWriterThread();
        },
      }),
    );
    const queue = await Queue.open(store, "q");
    const opened = store.writes;
    // 16 producers, each enqueueing one job after another: batches from several callers.
    await Promise.all(
      Array.from({ length: 16 }, async (_, p) => {
        for (let i = 0; i < 4; i++) await queue.enqueue("jobs", `job ${p}.${i}`);
      }),
    );
    await queue.close();
    await store.close();
    assert.equal(starts, 1);
    assert.ok(
      writesAtStart <= opened + 2,
      `started at write ${writesAtStart} (open made ${opened})`,
    );
  });

  it("a queue taking a burst of concurrent enqueues now and then, further apart than the idle time, starts no thread", async () => {
    let starts = 0;
    let now = 0;
    const writer = new FileWriter({
      start: () => {
        starts++;
        return startWriterThread();
      },
      now: () => now,
    });
    const store = new FileStore(join(dir, "bursts"), {}, writer);
    const queue = await Queue.open(store, "q");
    for (let burst = 0; burst < 6; burst++) {
      now += IDLE_MS + 1;
      await Promise.all([
        queue.enqueue("jobs", `job ${burst}.a`),
        queue.enqueue("jobs", `job ${burst}.b`),
      ]);
    }
    await queue.close();
    await store.close();
    assert.equal(starts, 0, "each burst's batch went to the pool; a thread would serve none");
  });

  it("a queue opened, given a job and closed starts no thread (its writes are fewer than the threshold)", async () => {
    let starts = 0;
    const writer = new FileWriter({
      start: () => {
        starts++;
        return startWriterThread();
      },
    });
    const store = new FileStore(join(dir, "open-close"), {}, writer);
    const queue = await Queue.open(store, "q");
    await queue.enqueue("jobs", "one");
    await queue.close();
    assert.equal(starts, 0);
  });

  it("a burst of writes beyond the few on the thread takes the pool, and the thread answers a few at a time", async () => {
    const { store, writer } = await storeOnThread(join(dir, "burst"), {}, true);
    await store.put("jobs/first", bytes("first"), { ifNoneMatch: "*" });
    const thread = writer.thread!;
    let mostInOneAnswer = 0;
    thread.prependListener("message", (replies: unknown[]) => {
      mostInOneAnswer = Math.max(mostInOneAnswer, replies.length);
    });
    for (let i = 0; i < 20; i++) await store.put(`old/${i}`, bytes(`old ${i}`));
    // The thread is held (a slow fsync): what it has stays unanswered; the rest of the
    // burst must not wait behind it.
    assert.equal(THREAD_MAX_PENDING, 4);
    const release = await holdWriter(writer);
    let written = 0;
    const writes = [
      ...Array.from({ length: 40 }, (_, i) =>
        store.put(`jobs/${i}`, bytes(`body ${i}`), { ifNoneMatch: "*" }),
      ),
      ...Array.from({ length: 20 }, (_, i) => store.delete(`old/${i}`)),
    ].map((write) =>
      write.then(() => {
        written++;
      }),
    );
    await until(() => written === 60 - THREAD_MAX_PENDING, "the rest of the burst written", 10_000);
    release();
    await Promise.all(writes);
    assert.ok(mostInOneAnswer <= THREAD_MAX_PENDING, `${mostInOneAnswer} answers in one message`);
    for (let i = 0; i < 40; i++)
      assert.equal(text((await store.get(`jobs/${i}`))?.body), `body ${i}`);
    for (let i = 0; i < 20; i++) assert.equal(await store.get(`old/${i}`), null);
  });
});
