import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { ManualClock } from "../../src/clock.js";
import { CorruptionError, FencedError, StorageError } from "../../src/errors.js";
import { openLog } from "../../src/log/index.js";
import { silentLogger } from "../../src/logger.js";
import type { OpenOptions } from "../../src/queue/options.js";
import { Queue } from "../../src/queue/queue.js";
import type { JobRecord } from "../../src/queue/types.js";
import { FileStore } from "../../src/store/file.js";
import { MemoryStore } from "../../src/store/memory.js";
import { listAll, type ObjectStore } from "../../src/store/types.js";
import { FaultStore } from "../../src/store/wrappers/fault.js";
import { recordingLogger } from "../recording-logger.js";
import { mustClaim, rejection } from "./helpers.js";

const dirs: string[] = [];
after(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "taquba-queue-"));
  dirs.push(dir);
  return dir;
}

function options(clock: ManualClock, extra: OpenOptions = {}): OpenOptions {
  return {
    clock,
    logger: silentLogger,
    flushIntervalMs: 0,
    defaultQueueConfig: { keepDoneJobsMs: 3_600_000, maxAttempts: 2 },
    ...extra,
  };
}

/** A mix of every status: pending (with headers), scheduled, done, dead, retried. */
async function populate(queue: Queue, clock: ManualClock): Promise<string[]> {
  const ids: string[] = [];
  ids.push(await queue.enqueue("work", new Uint8Array([0, 1, 2, 255]), { headers: { a: "1" } }));
  ids.push(await queue.enqueue("work", "scheduled", { runAt: clock.now() + 60_000 }));
  ids.push(await queue.enqueue("work", "done"));
  ids.push(await queue.enqueue("other", "dead", { priority: 7, dedupKey: "d" }));
  ids.push(await queue.enqueue("other", "retried", { dedupKey: "r" }));
  ids.push(...(await queue.enqueueBatch("batch", ["b1", "b2"])));
  clock.advance(5);
  await queue.nack(await mustClaim(queue, "work"), "first try failed"); // scheduled by backoff
  await queue.ack(await mustClaim(queue, "work")); // "scheduled" is not due: acks "done"
  await queue.deadLetter(await mustClaim(queue, "other"), "poison");
  const retried = await mustClaim(queue, "other");
  await queue.nack(retried, "transient");
  ids.push(await queue.enqueue("other", "holder", { dedupKey: "d" }));
  return ids;
}

async function snapshot(queue: Queue, ids: string[]) {
  const jobs: Array<JobRecord | null> = [];
  for (const id of ids) jobs.push(await queue.getJob(id));
  const stats = [];
  for (const name of await queue.listQueues()) stats.push(await queue.stats(name));
  return { jobs, stats, queues: await queue.listQueues() };
}

describe("durability", { timeout: 60_000 }, () => {
  it("close() of a fenced queue: FENCED to every call when the close finds the fence, none once the queue knew", async () => {
    const store = new MemoryStore();
    const quiet = { logger: silentLogger, flushIntervalMs: 0 };
    const unaware = await Queue.open(store, "jobs", quiet);
    await unaware.enqueue("q", "x");
    const aware = await Queue.open(store, "jobs", quiet); // fences `unaware`
    assert.equal((await rejection(unaware.close())).code, "FENCED");
    assert.equal((await rejection(unaware.close())).code, "FENCED", "the same outcome again");
    assert.equal(unaware.closed, true);
    const third = await Queue.open(store, "jobs", quiet); // fences `aware`
    assert.equal((await rejection(aware.enqueue("q", "y"))).code, "FENCED");
    await aware.close();
    await aware.close();
    await third.close();
  });

  it("close() of a fenced queue with a heartbeat: FENCED before its next beat, none once the look after a beat saw the fence", async () => {
    const store = new MemoryStore();
    const clock = new ManualClock();
    const beating = { logger: silentLogger, flushIntervalMs: 0, heartbeatMs: 1_000, clock };
    const early = await Queue.open(store, "jobs", beating);
    const idle = await Queue.open(store, "jobs", beating); // fences `early`, which has not beaten since
    assert.equal((await rejection(early.close())).code, "FENCED");
    const last = await Queue.open(store, "jobs", { logger: silentLogger, clock }); // fences `idle`
    clock.advance(1_000); // `idle` beats, then looks for a newer writer
    for (let i = 0; i < 1_000 && !idle.closed; i++) await new Promise(setImmediate);
    assert.equal(idle.closed, true, "the look after the beat found the fence");
    await idle.close();
    await idle.close();
    await last.close();
  });

  it("reopening after close restores identical stats and job records", async () => {
    const store = new FileStore(await tempDir());
    const clock = new ManualClock();
    const queue = await Queue.open(store, "jobs", options(clock));
    const ids = await populate(queue, clock);
    const before = await snapshot(queue, ids);
    await queue.close();
    const reopened = await Queue.open(store, "jobs", options(clock));
    assert.deepEqual(await snapshot(reopened, ids), before);
    // The id sequence continues after the newest id.
    const next = await reopened.enqueue("work", "next");
    assert.ok(ids.every((id) => id < next));
    // Dedup keys survive too.
    assert.equal(await reopened.enqueue("other", "again", { dedupKey: "d" }), ids.at(-1));
    await reopened.close();
  });

  it("reopening after an abrupt stop (no close) restores identical state from the log", async () => {
    const store = new MemoryStore();
    const clock = new ManualClock();
    const queue = await Queue.open(store, "jobs", options(clock));
    const ids = await populate(queue, clock);
    const before = await snapshot(queue, ids);
    // No close: the new writer fences the old one, replaying its WAL.
    const reopened = await Queue.open(store, "jobs", options(clock));
    assert.deepEqual(await snapshot(reopened, ids), before);
    await reopened.close();
  });

  it("claims found at open are requeued at once with attempts kept, or dead at the limit", async () => {
    const store = new MemoryStore();
    const clock = new ManualClock();
    const queue = await Queue.open(
      store,
      "jobs",
      options(clock, { defaultQueueConfig: { retryBackoffBaseMs: 0 } }),
    );
    const last = await queue.enqueue("q", "last", { maxAttempts: 2 });
    await queue.nack(await mustClaim(queue, "q"), "once");
    const fresh = await queue.enqueue("q", "fresh", { maxAttempts: 3 });
    const claimedLast = await mustClaim(queue, "q");
    const claimedFresh = await mustClaim(queue, "q");
    assert.deepEqual(
      [claimedLast.id, claimedLast.attempts, claimedFresh.id, claimedFresh.attempts],
      [last, 2, fresh, 1],
    );
    await queue.close();

    const reopened = await Queue.open(store, "jobs", options(clock));
    const requeued = await reopened.getJob(fresh);
    assert.equal(requeued?.status, "pending");
    assert.equal(requeued?.attempts, 1);
    const dead = await reopened.getJob(last);
    assert.equal(dead?.status, "dead");
    assert.equal(dead?.attempts, 2);
    assert.equal(dead?.lastError, "claim interrupted by process exit");
    assert.equal((await reopened.stats("q")).claimed, 0);
    // The old claims cannot be settled by the new process.
    assert.equal((await rejection(reopened.ack(claimedFresh))).code, "CLAIM_LOST");
    await reopened.close();
  });

  it("a second open on the same FileStore path fences the first; no acknowledged job is lost", async () => {
    const dir = await tempDir();
    const clock = new ManualClock();
    const first = await Queue.open(new FileStore(dir), "jobs", options(clock));
    const acknowledged = [];
    for (let i = 0; i < 20; i++) acknowledged.push(await first.enqueue("q", `job ${i}`));
    const second = await Queue.open(new FileStore(dir), "jobs", options(clock));
    const error = await rejection(first.enqueue("q", "zombie"));
    assert.ok(error instanceof FencedError);
    assert.equal(error.code, "FENCED");
    // The fenced queue closed itself: every later call rejects with the same error.
    assert.equal(first.closed, true);
    assert.equal((await rejection(first.stats("q"))).code, "FENCED");
    assert.equal((await rejection(first.claim("q"))).code, "FENCED");
    assert.equal((await second.stats("q")).pending, 20);
    for (const id of acknowledged) assert.equal((await second.getJob(id))?.status, "pending");
    await first.close();
    await second.close();
  });

  it("a store that stays down fails the log: the queue closes itself with STORAGE", async () => {
    const faults = new FaultStore(new MemoryStore());
    const clock = new ManualClock();
    const queue = await Queue.open(faults, "jobs", {
      ...options(clock),
      log: { retry: { baseDelayMs: 1, maxDelayMs: 2, maxElapsedMs: 20 } },
    });
    await queue.enqueue("q", "durable");
    faults.addRule({ op: "put", mode: "before" });
    const waiting = queue.claim("other", { waitMs: 60_000 });
    const error = await rejection(queue.enqueue("q", "lost"));
    assert.ok(error instanceof StorageError, String(error));
    assert.equal(error.code, "STORAGE");
    assert.equal(queue.closed, true);
    assert.equal(await waiting, null, "waiters end");
    assert.equal((await rejection(queue.stats("q"))).code, "STORAGE");
    assert.equal((await rejection(queue.enqueue("q", "later"))).code, "STORAGE");
    await queue.close();
  });

  it("a queue that fails (fenced, or a store failure that cannot heal) writes one error line", async () => {
    const clock = new ManualClock();
    const store = new MemoryStore();
    const fenced = recordingLogger();
    const first = await Queue.open(store, "jobs", { ...options(clock), logger: fenced });
    const second = await Queue.open(store, "jobs", options(clock));
    assert.equal((await rejection(first.enqueue("q", "zombie"))).code, "FENCED");
    await first.close();
    await second.close();
    assert.equal(fenced.messages("error").length, 1, fenced.messages("error").join("\n"));
    assert.match(fenced.messages("error")[0]!, /^queue closed after a log failure: /);

    const faults = new FaultStore(new MemoryStore());
    const broken = recordingLogger();
    const queue = await Queue.open(faults, "jobs", { ...options(clock), logger: broken });
    faults.addRule({
      op: "put",
      mode: "before",
      error: () => new StorageError("the bucket is gone", { permanent: true }),
    });
    assert.equal((await rejection(queue.enqueue("q", "lost"))).code, "STORAGE");
    await queue.close();
    assert.equal(broken.messages("error").length, 1, broken.messages("error").join("\n"));
    assert.match(
      broken.messages("error")[0]!,
      /^queue closed after a log failure: .*the bucket is gone/,
    );
  });

  it("a queue whose log has its own logger: the log failure is written there too", async () => {
    const clock = new ManualClock();
    const store = new MemoryStore();
    const queueLog = recordingLogger();
    const logLog = recordingLogger();
    const first = await Queue.open(store, "jobs", {
      ...options(clock),
      logger: queueLog,
      log: { logger: logLog },
    });
    const second = await Queue.open(store, "jobs", options(clock));
    assert.equal((await rejection(first.enqueue("q", "zombie"))).code, "FENCED");
    await first.close();
    await second.close();
    assert.deepEqual(
      queueLog.messages("error").map((line) => line.replace(/:.*/s, "")),
      ["queue closed after a log failure"],
    );
    assert.deepEqual(logLog.messages("error"), ["log failed"]);
  });

  it("a queue whose log has the queue's own logger: the log failure is one line", async () => {
    const clock = new ManualClock();
    const store = new MemoryStore();
    const logger = recordingLogger();
    const first = await Queue.open(store, "jobs", { ...options(clock), logger, log: { logger } });
    const second = await Queue.open(store, "jobs", options(clock));
    assert.equal((await rejection(first.enqueue("q", "zombie"))).code, "FENCED");
    await first.close();
    await second.close();
    assert.deepEqual(
      logger.messages("error").map((line) => line.replace(/:.*/s, "")),
      ["queue closed after a log failure"],
    );
  });

  it("a corrupted checkpoint makes open reject with CORRUPTION naming the object", async () => {
    const store = new MemoryStore();
    const clock = new ManualClock();
    const queue = await Queue.open(store, "jobs", options(clock));
    await queue.enqueue("q", "x");
    await queue.close();
    await corruptNewest(store, "jobs/checkpoint/");
    const error = await rejection(Queue.open(store, "jobs", options(clock)));
    assert.ok(error instanceof CorruptionError, String(error));
    assert.equal(error.code, "CORRUPTION");
    assert.match(error.message, /jobs\/checkpoint\//);
  });

  it("a record that cannot be applied makes open reject with CORRUPTION naming its WAL batch", async () => {
    const store = new MemoryStore();
    const clock = new ManualClock();
    const queue = await Queue.open(store, "jobs", options(clock));
    await queue.enqueue("q", "x");
    await queue.close();
    // An intact batch (its checksum holds) whose record has a tag no release wrote.
    const raw = await openLog(store, "jobs", { logger: silentLogger });
    await raw.log.append(new Uint8Array([250]));
    const batch = (await listAll(store, "jobs/wal/")).at(-1)!.key;
    await raw.log.close();
    const error = await rejection(Queue.open(store, "jobs", options(clock)));
    assert.ok(error instanceof CorruptionError, String(error));
    assert.equal(error.objectKey, batch);
    // Counted in the WAL this read applied: after the checkpoint here, after the previous read in a
    // reader's refresh.
    assert.match(
      error.message,
      /record 1 of the batch \(1 of the WAL records read\) .*unknown record tag 250/,
    );
  });

  it("a corrupted WAL batch makes open reject with CORRUPTION", async () => {
    const store = new MemoryStore();
    const clock = new ManualClock();
    const queue = await Queue.open(store, "jobs", options(clock));
    await queue.enqueue("q", "x");
    // Abrupt stop: the record is only in the WAL.
    await corruptNewest(store, "jobs/wal/");
    const error = await rejection(Queue.open(store, "jobs", options(clock)));
    assert.equal(error.code, "CORRUPTION");
  });
});

/** Flip a byte in the middle of the newest non-empty object under `prefix`. */
async function corruptNewest(store: ObjectStore, prefix: string): Promise<void> {
  const objects = (await listAll(store, prefix)).filter((o) => o.size > 0);
  const target = objects.at(-1);
  assert.ok(target !== undefined, `no object under ${prefix}`);
  const body = Uint8Array.from((await store.get(target.key))!.body);
  body[Math.floor(body.length / 2)]! ^= 0xff;
  await store.put(target.key, body);
}
