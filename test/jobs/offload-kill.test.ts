import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ManualClock } from "../../src/clock.js";
import { silentLogger } from "../../src/logger.js";
import { ORPHAN_MIN_AGE_MS } from "../../src/queue/payloads.js";
import { Queue } from "../../src/queue/queue.js";
import { FileStore } from "../../src/store/file.js";
import type { ObjectStore } from "../../src/store/types.js";
import { runAndKill } from "./kill.js";
import { tempDir, turns } from "./stores.js";

const SIZE = 300 * 1024; // above the default 256 KiB threshold
/** How long the child lets its in-flight writes run before it is killed: the kill lands at different points. */
const DELAYS = [0, 3, 10, 30];

async function payloadKeys(store: ObjectStore): Promise<string[]> {
  return (await store.list("q/payload/")).objects.map((o) => o.key);
}

/** Every job of `queue` (any status) by id, with its payload read back. */
async function everyJob(queue: Queue): Promise<Map<string, Uint8Array>> {
  const jobs = new Map<string, Uint8Array>();
  for (const status of ["pending", "scheduled", "claimed", "done", "dead"] as const)
    for (const job of (await queue.listJobs("work", status, { limit: 1000 })).jobs)
      jobs.set(job.id, job.payload);
  return jobs;
}

/** A payload the child wrote: `SIZE` bytes all equal to one fill byte (1–9). */
function checkPayload(id: string, payload: Uint8Array): void {
  assert.equal(payload.byteLength, SIZE, `job ${id}'s payload is whole`);
  const fill = payload[0]!;
  assert.ok(fill >= 1 && fill <= 9, `job ${id}'s payload is one the child wrote`);
  assert.ok(
    payload.every((b) => b === fill),
    `job ${id}'s payload is not mixed with another's`,
  );
}

/**
 * After the reopen: orphans (objects of enqueues that never committed, or of jobs whose
 * removal was durable before their delete ran) go once they are older than the minimum
 * age; every object a live job references stays.
 */
async function orphansCollected(dir: string, live: number): Promise<void> {
  const store = new FileStore(dir, { fsync: false });
  const later = new ManualClock(Date.now() + ORPHAN_MIN_AGE_MS + 60_000);
  const queue = await Queue.open(store, "q", { logger: silentLogger, clock: later });
  const deadline = Date.now() + 10_000;
  while ((await payloadKeys(store)).length !== live && Date.now() < deadline) await turns(5);
  assert.equal((await payloadKeys(store)).length, live, "only live jobs' objects are left");
  assert.equal((await everyJob(queue)).size, live);
  for (const [id, payload] of await everyJob(queue)) checkPayload(id, payload);
  await queue.close();
}

describe("offloaded payloads and SIGKILL", { timeout: 120_000 }, () => {
  it("killed while enqueues of offloaded payloads are in flight: every acknowledged job is whole, the rest never half-exists, orphans are collected", async () => {
    for (const delayMs of DELAYS) {
      const dir = await tempDir();
      const lines = (await runAndKill(dir, "offload-inflight", { size: SIZE, delayMs })) as {
        acked: string;
      }[];
      const acked = lines.map((l) => l.acked);
      assert.ok(acked.length >= 1);
      const store = new FileStore(dir, { fsync: false });
      const queue = await Queue.open(store, "q", { logger: silentLogger });
      const jobs = await everyJob(queue);
      for (const id of acked) assert.ok(jobs.has(id), `acknowledged job ${id} survived`);
      assert.ok(jobs.size <= 7);
      for (const [id, payload] of jobs) checkPayload(id, payload);
      const keys = await payloadKeys(store);
      assert.ok(keys.length >= jobs.size, "no live job lost its object");
      await queue.close();
      await orphansCollected(dir, jobs.size);
    }
  });

  it("killed while acks of offloaded jobs are in flight: a job that is still there still has its payload", async () => {
    for (const delayMs of DELAYS) {
      const dir = await tempDir();
      const lines = (await runAndKill(dir, "offload-ack-inflight", { size: SIZE, delayMs })) as {
        ids?: string[];
        acked: string[];
      }[];
      const ids = lines[0]!.ids!;
      const acked = lines.flatMap((l) => l.acked);
      const store = new FileStore(dir, { fsync: false });
      const queue = await Queue.open(store, "q", { logger: silentLogger });
      const jobs = await everyJob(queue);
      for (const id of acked) assert.ok(!jobs.has(id), `acknowledged ack of ${id} held`);
      for (const id of ids) {
        const job = await queue.getJob(id);
        if (job === null) continue; // its ack was durable
        assert.equal(job.status, "pending", "an interrupted claim is requeued");
        checkPayload(id, job.payload);
      }
      await queue.close();
      await orphansCollected(dir, jobs.size);
    }
  });

  it("killed with payload objects written but their enqueue records not durable: no job, and the objects are collected as orphans", async () => {
    const dir = await tempDir();
    const lines = (await runAndKill(dir, "offload-orphans", SIZE)) as { acked: string }[];
    const store = new FileStore(dir, { fsync: false });
    assert.equal((await payloadKeys(store)).length, 7, "six objects without a durable record");
    const queue = await Queue.open(store, "q", { logger: silentLogger });
    const jobs = await everyJob(queue);
    assert.deepEqual([...jobs.keys()], [lines[0]!.acked], "only the acknowledged job exists");
    await turns(10);
    assert.equal((await payloadKeys(store)).length, 7, "young orphans are left alone");
    await queue.close();
    await orphansCollected(dir, 1);
  });

  it("killed after acks were durable but before their objects were deleted: the jobs stay gone, the objects are collected", async () => {
    const dir = await tempDir();
    const [said] = (await runAndKill(dir, "offload-undeleted", SIZE)) as { acked: string[] }[];
    const store = new FileStore(dir, { fsync: false });
    assert.equal((await payloadKeys(store)).length, 3);
    const queue = await Queue.open(store, "q", { logger: silentLogger });
    for (const id of said!.acked) assert.equal(await queue.getJob(id), null);
    await queue.close();
    await orphansCollected(dir, 0);
  });
});
