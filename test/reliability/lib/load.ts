/**
 * Load scenarios, sized by the caller: the fast suite runs them small, the
 * soak (`npm run torture`) at full size. Each returns what it measured.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { ManualClock } from "../../../src/clock.js";
import { silentLogger } from "../../../src/logger.js";
import { Queue } from "../../../src/queue/queue.js";
import { FileStore } from "../../../src/store/file.js";
import { MemoryStore } from "../../../src/store/memory.js";
import { auditState, liveState } from "./audit.js";

const CHUNK = 1_000;
const MiB = 1024 * 1024;

async function withDir<T>(run: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), "taquba-load-"));
  try {
    return await run(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * The heap in use after a full garbage collection: what is retained, not what
 * the collector has yet to reclaim (which depends on the V8 version and on
 * when it last ran, so a growth figure without it is noise).
 */
function retainedHeapBytes(): number {
  setFlagsFromString("--expose-gc");
  const gc = runInNewContext("gc") as () => void;
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

/**
 * `jobs` jobs enqueued, claimed and acked through one process; the heap must
 * stay bounded. `doneAfterReopen` is the done counter a reopened queue reports.
 */
export async function throughOneProcess(jobs: number): Promise<{
  jobs: number;
  ms: number;
  peakHeapMiB: number;
  heapGrowthMiB: number;
  doneAfterReopen: number;
}> {
  return withDir(async (dir) => {
    const store = new FileStore(dir, { fsync: false });
    const options = { logger: silentLogger, log: { checkpointWalBytes: 4 * MiB, gcMinAgeMs: 0 } };
    const queue = await Queue.open(store, "q", options);
    const heapBefore = retainedHeapBytes();
    const started = performance.now();
    let peak = heapBefore;
    let done = 0;
    // Keep at most a few chunks in flight: memory must follow live jobs, not jobs processed.
    for (let sent = 0; sent < jobs; sent += CHUNK) {
      const n = Math.min(CHUNK, jobs - sent);
      await queue.enqueueBatch(
        "load",
        Array.from({ length: n }, (_, i) => `job ${sent + i}`),
      );
      // Claims are handed out once durable: issued together, they share group commits.
      const claims = await Promise.all(Array.from({ length: n }, () => queue.claim("load")));
      await Promise.all(
        claims.map((c) => {
          assert.ok(c !== null);
          return queue.ack(c);
        }),
      );
      done += n;
      peak = Math.max(peak, process.memoryUsage().heapUsed);
    }
    const stats = await queue.stats("load");
    assert.deepEqual(stats, {
      queue: "load",
      pending: 0,
      claimed: 0,
      done,
      dead: 0,
      scheduled: 0,
      paused: false,
    });
    const ms = performance.now() - started;
    const heapGrowthMiB = (retainedHeapBytes() - heapBefore) / MiB;
    await queue.close();
    const reopened = await Queue.open(store, "q", options);
    const doneAfterReopen = (await reopened.stats("load")).done;
    await reopened.close();
    return { jobs: done, ms, peakHeapMiB: peak / MiB, heapGrowthMiB, doneAfterReopen };
  });
}

/**
 * One job in each of `count` queues; every queue is listed and counted, also
 * after a reopen. `pendingAfterReopen` sums the reopened queue's pending
 * counters over every listed queue.
 */
export async function manyQueues(
  count: number,
): Promise<{ queues: number; ms: number; reopenMs: number; pendingAfterReopen: number }> {
  const store = new MemoryStore();
  const options = { logger: silentLogger };
  const queue = await Queue.open(store, "q", options);
  const started = performance.now();
  const names = Array.from({ length: count }, (_, i) => `queue-${String(i).padStart(6, "0")}`);
  for (let i = 0; i < count; i += CHUNK)
    await Promise.all(names.slice(i, i + CHUNK).map((name) => queue.enqueue(name, name)));
  const ms = performance.now() - started;
  await queue.close();
  const reopenStarted = performance.now();
  const reopened = await Queue.open(store, "q", options);
  const reopenMs = performance.now() - reopenStarted;
  const listed = await reopened.listQueues();
  assert.deepEqual(listed, names);
  let pendingAfterReopen = 0;
  for (const name of listed) pendingAfterReopen += (await reopened.stats(name)).pending;
  for (const name of [names[0]!, names[count >> 1]!, names.at(-1)!]) {
    const stats = await reopened.stats(name);
    assert.equal(stats.pending, 1, name);
    const claim = await reopened.claim(name);
    assert.equal(Buffer.from(claim!.payload).toString(), name);
  }
  assert.deepEqual(auditState(liveState(reopened)), []);
  await reopened.close();
  return { queues: listed.length, ms, reopenMs, pendingAfterReopen };
}

/** `count` jobs scheduled for one instant: all promoted together, claimed in enqueue order. */
export async function sameInstant(count: number): Promise<{ jobs: number; promoteMs: number }> {
  const clock = new ManualClock();
  const queue = await Queue.open(new MemoryStore(), "q", {
    clock,
    logger: silentLogger,
    schedulerIntervalMs: 3_600_000,
  });
  const runAt = clock.now() + 60_000;
  const ids: string[] = [];
  for (let i = 0; i < count; i += CHUNK) {
    const n = Math.min(CHUNK, count - i);
    ids.push(
      ...(await Promise.all(Array.from({ length: n }, () => queue.enqueue("due", "x", { runAt })))),
    );
  }
  assert.equal((await queue.stats("due")).scheduled, count);
  assert.equal(await queue.claim("due"), null);
  // Reaching runAt fires the scheduler's timer, which promotes; promoteScheduledNow finds nothing left.
  const started = performance.now();
  clock.set(runAt);
  await queue.promoteScheduledNow();
  const promoteMs = performance.now() - started;
  const stats = await queue.stats("due");
  assert.equal(stats.pending, count);
  assert.equal(stats.scheduled, 0);
  // FIFO within the instant: claims come back in enqueue (id) order. Each claim takes its
  // job when called, so claims issued together (sharing group commits) keep that order.
  const claims = await Promise.all(Array.from({ length: count }, () => queue.claim("due")));
  for (let i = 0; i < count; i++) {
    const claim = claims[i];
    if (claim?.id !== ids[i]) assert.fail(`claim ${i} is ${claim?.id}, expected ${ids[i]}`);
  }
  await queue.close();
  return { jobs: count, promoteMs };
}

/**
 * A 100 MiB payload: rejected with INVALID_ARGUMENT under the default limit
 * (16 MiB), with nothing written; stored and read back intact when
 * `storeIt` and the limit is raised to fit.
 */
export async function hugePayload(
  storeIt: boolean,
): Promise<{ rejected: boolean; stored: boolean }> {
  const payload = new Uint8Array(100 * MiB);
  payload[0] = 1;
  payload[payload.length - 1] = 2;
  const store = new MemoryStore();
  const queue = await Queue.open(store, "q", { logger: silentLogger });
  const before = queue.logStats().recordsWritten;
  let rejected = false;
  try {
    await queue.enqueue("big", payload);
  } catch (error) {
    rejected = (error as { code?: string }).code === "INVALID_ARGUMENT";
    assert.match(String(error), /16777216 bytes/);
  }
  assert.equal(queue.logStats().recordsWritten, before);
  assert.deepEqual(await queue.listQueues(), []);
  await queue.close();
  let stored = false;
  if (storeIt) {
    const big = await Queue.open(store, "big", {
      logger: silentLogger,
      maxPayloadBytes: 100 * MiB,
    });
    const id = await big.enqueue("big", payload);
    await big.close();
    const reopened = await Queue.open(store, "big", {
      logger: silentLogger,
      maxPayloadBytes: 100 * MiB,
    });
    const job = await reopened.getJob(id);
    stored = job !== null && Buffer.compare(Buffer.from(job.payload), Buffer.from(payload)) === 0;
    await reopened.close();
  }
  return { rejected, stored };
}
