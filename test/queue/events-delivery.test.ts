import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { reportProgress } from "../../src/queue/progress.js";
import type { Queue } from "../../src/queue/queue.js";
import { MemoryStore } from "../../src/store/memory.js";
import { FaultStore } from "../../src/store/wrappers/fault.js";
import { LatencyStore } from "../../src/store/wrappers/latency.js";
import { recordingLogger } from "../recording-logger.js";
import { liveState } from "../reliability/lib/audit.js";
import { memoryAndFileStores, mustClaim, openTestQueue, turns, watch } from "./helpers.js";

const STORES = memoryAndFileStores("taquba-events-delivery-");

/** The most listener calls one turn of the event loop makes (`EVENTS_PER_TURN`). */
const PER_TURN = 1_000;

/**
 * Counts calls per run of synchronous delivery: a run ends at the next
 * microtask checkpoint, so no turn of the event loop holds more calls than
 * the longest run (one turn can be counted as several runs, never the reverse).
 */
function runMeter(): { note(): void; longest: number; runs: number } {
  let run = 0;
  let armed = false;
  const meter = {
    longest: 0,
    runs: 0,
    note(): void {
      if (!armed) {
        armed = true;
        run = 0;
        meter.runs++;
        queueMicrotask(() => {
          armed = false;
        });
      }
      run++;
      if (run > meter.longest) meter.longest = run;
    },
  };
  return meter;
}

/** Gives the event loop turns until `done()` holds (fails after `max` turns). */
async function until(done: () => boolean, max = 5_000): Promise<void> {
  for (let i = 0; i < max && !done(); i++) await turns(1);
  assert.ok(done(), "condition not met in time");
}

/** Jobs of queue `name` in memory (pending), durable or not. */
function pendingInMemory(queue: Queue, name: string): number {
  return liveState(queue).queues.get(name)?.pending.size ?? 0;
}

/**
 * Holds the WAL's writes behind one held write, runs `fill` (which appends
 * `jobs` jobs to queue `name`, not durable yet), and releases once they are
 * all in memory: they become durable together.
 */
async function heldThenReleased<T>(
  queue: Queue,
  store: FaultStore,
  name: string,
  jobs: number,
  fill: () => T,
): Promise<{ first: string; result: T }> {
  const hold = store.pause({ op: "put", keyPrefix: "q/wal/" });
  const first = queue.enqueue("first", "held");
  await hold.whenHeld();
  const result = fill();
  await until(() => pendingInMemory(queue, name) >= jobs);
  hold.release();
  return { first: await first, result };
}

/** Closes `queue`, failing (instead of hanging) when `close()` does not resolve. */
async function closes(queue: Queue): Promise<void> {
  const closing = queue.close();
  const { settled } = watch(closing);
  await until(settled);
  await closing;
}

/** The ids told to a listener of `event` that removes itself when first told. */
function toldOnce(queue: Queue, event: "completed" | "enqueued"): string[] {
  const told: string[] = [];
  const once = (e: { id: string }): void => {
    told.push(e.id);
    queue.off(event, once);
  };
  queue.on(event, once);
  return told;
}

for (const [storeName, makeStore] of STORES) {
  describe(`event delivery per turn (${storeName})`, { timeout: 120_000 }, () => {
    it("50,000 enqueues made durable together reach a listener at most 1,000 per turn, in commit order", async () => {
      const store = new FaultStore(await makeStore());
      const { queue } = await openTestQueue({}, store);
      const seen: string[] = [];
      const meter = runMeter();
      queue.on("enqueued", (event) => {
        seen.push(event.id);
        meter.note();
      });
      const payloads = Array.from({ length: 50_000 }, (_, i) => `${i}`);
      const { first, result } = await heldThenReleased(queue, store, "q", 50_000, () =>
        queue.enqueueBatch("q", payloads),
      );
      const ids = await result;
      // Committed while the bulk's events are still being told: told after them.
      const late = await queue.enqueue("q", "late");
      await until(() => seen.length === 50_002);
      assert.deepEqual(seen, [first, ...ids, late]);
      assert.ok(meter.longest <= PER_TURN, `${meter.longest} calls in one turn`);
      assert.ok(meter.runs >= 50, `told in ${meter.runs} runs`);
      await queue.close();
    });

    it("close() tells the listeners every queued event before it resolves", async () => {
      const store = new FaultStore(await makeStore());
      const { queue } = await openTestQueue({}, store);
      const seen: string[] = [];
      queue.on("enqueued", (event) => void seen.push(event.id));
      const payloads = Array.from({ length: 5_000 }, (_, i) => `${i}`);
      const { first, result } = await heldThenReleased(queue, store, "q", 5_000, () =>
        queue.enqueueBatch("q", payloads),
      );
      const ids = await result;
      const toldBeforeClose = seen.length;
      await queue.close();
      assert.ok(toldBeforeClose < 5_001, "a backlog is left when close() is called");
      assert.deepEqual(seen, [first, ...ids]);
    });
  });
}

describe("event delivery with a backlog", { timeout: 120_000 }, () => {
  it("a progress reported while its job's claimed event waits is told after it", async () => {
    const store = new FaultStore(new MemoryStore());
    const { queue } = await openTestQueue({}, store);
    const seen: string[] = [];
    for (const name of ["enqueued", "claimed", "progress"] as const)
      queue.on(name, (event) => void seen.push(`${name} ${event.id}`));
    const payloads = Array.from({ length: 20_000 }, (_, i) => `${i}`);
    const { result } = await heldThenReleased(queue, store, "bulk", 20_000, () =>
      queue.enqueueBatch("bulk", payloads),
    );
    // The job and its claim join the bulk's backlog.
    const job = await queue.enqueue("q", "job");
    const claiming = mustClaim(queue, "q").then((claim) => {
      assert.ok(!seen.includes(`claimed ${job}`), "the claimed event still waits");
      reportProgress(queue, claim, { step: 1 });
      return claim.id;
    });
    await result;
    assert.equal(await claiming, job);
    await until(() => seen.length === 20_004);
    assert.deepEqual(seen.slice(-3), [`enqueued ${job}`, `claimed ${job}`, `progress ${job}`]);
    await queue.close();
  });

  it("off() during a backlog stops that listener at once; one that throws is logged and stops nothing", async () => {
    const logger = recordingLogger();
    const store = new FaultStore(new MemoryStore());
    const { queue } = await openTestQueue({ logger }, store);
    const stopped: string[] = [];
    const all: string[] = [];
    const stopping = (event: { id: string }): void => {
      stopped.push(event.id);
      if (stopped.length === 1_500) queue.off("enqueued", stopping);
    };
    queue.on("enqueued", stopping);
    queue.on("enqueued", () => {
      throw new Error("listener bug");
    });
    queue.on("enqueued", (event) => void all.push(event.id));
    const payloads = Array.from({ length: 5_000 }, (_, i) => `${i}`);
    const { first, result } = await heldThenReleased(queue, store, "q", 5_000, () =>
      queue.enqueueBatch("q", payloads),
    );
    const ids = await result;
    // Added while the backlog is told: not told of it.
    const added: string[] = [];
    queue.on("enqueued", (event) => void added.push(event.id));
    await until(() => all.length === 5_001);
    await turns();
    assert.deepEqual(all, [first, ...ids]);
    assert.deepEqual(stopped, all.slice(0, 1_500));
    assert.equal(logger.messages("error").length, 5_001);
    assert.equal(
      logger.messages("error")[0],
      `a "enqueued" listener failed on job ${first}: listener bug`,
    );
    assert.deepEqual(added, []);
    await queue.close();
  });

  it("a sole listener that removes itself when first told: close() resolves", async () => {
    const { queue } = await openTestQueue({}, new MemoryStore());
    const told = toldOnce(queue, "completed");
    const job = await queue.enqueue("q", "a");
    await queue.ack(await mustClaim(queue, "q"));
    await queue.enqueue("q", "b");
    await queue.ack(await mustClaim(queue, "q"));
    await closes(queue);
    assert.deepEqual(told, [job]);
  });

  it("after a sole listener removed itself when first told, a listener added later is told the next event", async () => {
    const { queue } = await openTestQueue({}, new MemoryStore());
    const told = toldOnce(queue, "enqueued");
    const ids = await queue.enqueueBatch("q", ["1", "2", "3"]);
    await turns();
    assert.deepEqual(told, [ids[0]]);
    const later: string[] = [];
    queue.on("enqueued", (event) => void later.push(event.id));
    const next = await queue.enqueue("q", "4");
    await turns();
    assert.deepEqual(later, [next]);
    await closes(queue);
  });

  // Told first in the turn the batch became durable, or in a later turn of its backlog.
  for (const stopAt of [1, 1_500]) {
    it(`a sole listener that removes itself at call ${stopAt} of a 5,000-event backlog: close() resolves, a later listener is told the next event`, async () => {
      const store = new FaultStore(new MemoryStore());
      const { queue } = await openTestQueue({}, store);
      const told: string[] = [];
      const stopping = (event: { id: string }): void => {
        told.push(event.id);
        if (told.length === stopAt) queue.off("enqueued", stopping);
      };
      queue.on("enqueued", stopping);
      const payloads = Array.from({ length: 5_000 }, (_, i) => `${i}`);
      const { first, result } = await heldThenReleased(queue, store, "q", 5_000, () =>
        queue.enqueueBatch("q", payloads),
      );
      const ids = await result;
      await until(() => told.length === stopAt);
      await turns();
      assert.deepEqual(told, [first, ...ids].slice(0, stopAt));
      // Not told of the rest of the backlog: only of what becomes durable after on().
      const later: string[] = [];
      queue.on("enqueued", (event) => void later.push(event.id));
      const next = await queue.enqueue("q", "next");
      await turns();
      assert.deepEqual(later, [next]);
      await closes(queue);
      assert.equal(told.length, stopAt);
    });
  }

  it("five concurrent enqueueMany of 10,000 reach a listener at most 1,000 per turn, each call's jobs in order", async () => {
    const store = new LatencyStore(new MemoryStore(), { latencyMs: 5 });
    const { queue } = await openTestQueue({}, store);
    const seen: string[] = [];
    const meter = runMeter();
    queue.on("enqueued", (event) => {
      seen.push(event.id);
      meter.note();
    });
    const calls = Array.from({ length: 5 }, (_, c) =>
      queue.enqueueMany(
        "q",
        Array.from({ length: 10_000 }, (_, i) => ({ payload: `${c}-${i}` })),
      ),
    );
    const results = await Promise.all(calls);
    await until(() => seen.length === 50_000);
    assert.ok(meter.longest <= PER_TURN, `${meter.longest} calls in one turn`);
    const position = new Map(seen.map((id, i) => [id, i]));
    assert.equal(position.size, 50_000);
    for (const result of results) {
      const at = result.map((r) => position.get(r.id)!);
      assert.ok(
        at.every((p, i) => i === 0 || p > at[i - 1]!),
        "a call's jobs are told in order",
      );
    }
    await queue.close();
  });
});
