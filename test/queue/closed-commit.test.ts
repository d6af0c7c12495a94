/**
 * A call the queue answers with an error that is not in doubt (`ClosedError`
 * from a close racing it) left no effect: after reopening, the store shows
 * none of it. And a call it acknowledged is there. Before, a write call that
 * passed its checks and then awaited (a `kvPut` waiting for the log to be
 * writable) was applied to the state although the closing log refused its
 * record, and the closing checkpoint then wrote it.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Queue } from "../../src/queue/queue.js";
import { memoryAndFileStores, openTestQueue, turns } from "./helpers.js";

/** Offloaded above this many bytes. */
const OFFLOAD = 100;
const BIG = "b".repeat(OFFLOAD * 2);

interface Kind {
  /** Run before the race (the state the call acts on). */
  setup?: (queue: Queue) => Promise<unknown>;
  /** The call; resolves `false` when it reports doing nothing. */
  call: (queue: Queue) => Promise<unknown>;
  /** Whether the call's effect is in the reopened queue. */
  done: (queue: Queue) => Promise<boolean>;
}

const hasJob = (queue: Queue): Promise<boolean> => queue.getJob("c").then((j) => j !== null);
const lacksJob = (queue: Queue): Promise<boolean> => queue.getJob("c").then((j) => j === null);
const hasKey = (queue: Queue): Promise<boolean> => queue.kvGet("c").then((v) => v !== null);
const pending = (queue: Queue): Promise<boolean> => queue.stats("w").then((s) => s.pending > 0);
const job = (queue: Queue): Promise<string> => queue.enqueue("w", "s", { jobId: "c" });
const flowOf = (payload: string) => ({
  queue: "w",
  payload,
  options: { jobId: "c" },
  children: [{ queue: "w", payload: "k" }],
});
const EVERY_MINUTE = { everyMs: 60_000, queue: "w", payload: "p" };

const kinds: Record<string, Kind> = {
  enqueue: { call: (q) => q.enqueue("w", "s"), done: pending },
  "enqueue with a jobId": { call: job, done: hasJob },
  "enqueue offloaded": { call: (q) => q.enqueue("w", BIG, { jobId: "c" }), done: hasJob },
  enqueueBatch: { call: (q) => q.enqueueBatch("w", ["s"]), done: pending },
  enqueueMany: {
    call: (q) => q.enqueueMany("w", [{ payload: "s", options: { jobId: "c" } }]),
    done: hasJob,
  },
  "enqueueMany offloaded": {
    call: (q) => q.enqueueMany("w", [{ payload: BIG, options: { jobId: "c" } }]),
    done: hasJob,
  },
  transaction: {
    call: (q) => q.transaction((tx) => tx.enqueue("w", "s", { jobId: "c" })),
    done: hasJob,
  },
  "transaction offloaded": {
    call: (q) => q.transaction((tx) => tx.enqueue("w", BIG, { jobId: "c" })),
    done: hasJob,
  },
  "transaction kvPut": { call: (q) => q.transaction((tx) => tx.kvPut("c", "v")), done: hasKey },
  enqueueFlow: { call: (q) => q.enqueueFlow(flowOf("s")), done: hasJob },
  "enqueueFlow offloaded": { call: (q) => q.enqueueFlow(flowOf(BIG)), done: hasJob },
  kvPut: { call: (q) => q.kvPut("c", "v"), done: hasKey },
  kvDelete: {
    setup: (q) => q.kvPut("c", "v"),
    call: (q) => q.kvDelete("c"),
    done: (q) => hasKey(q).then((has) => !has),
  },
  kvCompareAndSet: {
    setup: (q) => q.kvPut("c", "v"),
    call: (q) => q.kvCompareAndSet("c", "v", "w"),
    done: (q) => q.kvGet("c").then((v) => v !== null && Buffer.from(v).toString() === "w"),
  },
  schedule: {
    call: (q) => q.schedule("s", EVERY_MINUTE),
    done: (q) => q.listSchedules().then((l) => l.length === 1),
  },
  unschedule: {
    setup: (q) => q.schedule("s", EVERY_MINUTE),
    call: (q) => q.unschedule("s"),
    done: (q) => q.listSchedules().then((l) => l.length === 0),
  },
  cancel: { setup: job, call: (q) => q.cancel("c"), done: lacksJob },
  removeJob: { setup: job, call: (q) => q.removeJob("c"), done: lacksJob },
  pauseQueue: { call: (q) => q.pauseQueue("w"), done: (q) => q.stats("w").then((s) => s.paused) },
  wakeScheduled: {
    setup: (q) => q.enqueue("w", "s", { jobId: "c", delayMs: 3_600_000 }),
    call: (q) => q.wakeScheduled("c"),
    done: (q) => q.getJob("c").then((j) => j?.status === "pending"),
  },
};

/** How `close()` races the call: made before it, or after it, `gap` steps apart. */
const orders = ["close first", "call first", "call first, turns apart"] as const;
const GAPS = 6;

async function gap(order: (typeof orders)[number], steps: number): Promise<void> {
  for (let i = 0; i < steps; i++)
    if (order === "call first, turns apart") await turns(1);
    else await Promise.resolve();
}

describe("a call racing close()", { timeout: 300_000 }, () => {
  for (const [storeName, makeStore] of memoryAndFileStores("taquba-closed-commit-")) {
    it(`${storeName}: rejected (not in doubt) has no effect after reopen; acknowledged has`, async () => {
      const wrong: string[] = [];
      for (const [kindName, { setup, call, done }] of Object.entries(kinds))
        for (const order of orders)
          for (let steps = 0; steps < GAPS; steps++) {
            const store = await makeStore();
            const { queue } = await openTestQueue({ payloadOffloadBytes: OFFLOAD }, store);
            await setup?.(queue);
            let closing: Promise<void>;
            let made: Promise<unknown>;
            if (order === "close first") {
              closing = queue.close();
              await gap(order, steps);
              made = call(queue);
            } else {
              made = call(queue);
              await gap(order, steps);
              closing = queue.close();
            }
            const outcome = await made.then(
              (value) => ({ ok: true as const, value }),
              (error: { inDoubt?: boolean; message?: string }) => ({ ok: false as const, error }),
            );
            await closing;
            const { queue: reopened } = await openTestQueue({}, store);
            const present = await done(reopened);
            await reopened.close();
            const what = `${kindName}, ${order}, ${steps} steps apart`;
            if (outcome.ok && outcome.value !== false && !present)
              wrong.push(`${what}: acknowledged, but not there after reopen`);
            if (!outcome.ok && outcome.error.inDoubt !== true && present)
              wrong.push(`${what}: rejected (${outcome.error.message}), but there after reopen`);
          }
      assert.deepEqual(wrong, []);
    });
  }
});
