/**
 * Test helpers for answers that must wait for the log: a call's settling
 * while a WAL write is held, and the WAL writes a batch of enqueues costs
 * with such calls mixed in.
 */
import { ManualClock } from "../../src/clock.js";
import { silentLogger } from "../../src/logger.js";
import { Queue } from "../../src/queue/queue.js";
import { MemoryStore } from "../../src/store/memory.js";
import { CountingStore } from "../../src/store/wrappers/counting.js";
import { FaultStore } from "../../src/store/wrappers/fault.js";
import { turns, watch } from "./helpers.js";

/** Whether `promise` settled within a few turns (it must not while its write is held). */
export async function settledSoon(promise: Promise<unknown>): Promise<boolean> {
  const watched = watch(promise);
  await turns(10);
  return watched.settled();
}

/**
 * Store writes of 400 enqueues made while the log's first write is held (the
 * slowest store), with a call made by `call` after every tenth one (its
 * refusal caught); `setUp` prepares the queue before the write is held.
 */
export async function walWritesAround<F>(
  setUp: (queue: Queue) => Promise<F>,
  call: ((queue: Queue, i: number, fixture: F) => Promise<unknown>) | null,
): Promise<number> {
  const faults = new FaultStore(new MemoryStore());
  const counting = new CountingStore(faults);
  const counted = await Queue.open(counting, "q", {
    clock: new ManualClock(1_700_000_000_000),
    logger: silentLogger,
    flushIntervalMs: 0,
  });
  const fixture = await setUp(counted);
  const hold = faults.pause({ op: "put", keyPrefix: "q/wal/" });
  const before = counting.snapshot().counts.put;
  const calls: Promise<unknown>[] = [];
  for (let i = 0; i < 400; i++) {
    calls.push(counted.enqueue("q", `p${i}`));
    if (i === 0) await hold.whenHeld();
    if (call !== null && i % 10 === 5) calls.push(call(counted, i, fixture).catch(() => "refused"));
    if (i % 50 === 49) await turns(2);
  }
  await turns(10);
  hold.release();
  await Promise.all(calls);
  const writes = counting.snapshot().counts.put - before;
  await counted.close();
  return writes;
}
