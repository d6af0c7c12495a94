/**
 * What the orphan-collection tests share: the options their queues open
 * with (a manual clock, payloads offloaded from 10 bytes, no heartbeat, short
 * request retries), orphans old enough to be collected, put straight into
 * the store, and a store that counts the listings of the payload folder.
 */
import assert from "node:assert/strict";
import { ulid } from "ulid";
import type { ManualClock } from "../../src/clock.js";
import { StorageError } from "../../src/errors.js";
import { ORPHAN_MIN_AGE_MS } from "../../src/queue/payloads.js";
import type { Queue } from "../../src/queue/queue.js";
import { MemoryStore } from "../../src/store/memory.js";
import type { ListOptions, ListPage, ObjectStore } from "../../src/store/types.js";
import type { FaultStore } from "../../src/store/wrappers/fault.js";
import type { RecordingLogger } from "../recording-logger.js";

/** Store-request retries short enough for a test to advance the clock past. */
export const ORPHAN_TEST_RETRY = { baseDelayMs: 100, maxDelayMs: 100, maxElapsedMs: 1_000 };

/** The options of a queue in the orphan tests; `log` adds log options. */
export function orphanTestOptions(
  clock: ManualClock,
  logger: RecordingLogger,
  log: { maxUnflushedBytes?: number } = {},
) {
  return {
    clock,
    logger,
    payloadOffloadBytes: 10,
    flushIntervalMs: 0,
    heartbeatMs: null,
    log: { retry: ORPHAN_TEST_RETRY, ...log },
  };
}

/**
 * Puts `count` payload objects of queue `q` that no job references, named a
 * minute past the collection's minimum age and a millisecond apart (oldest
 * first); returns their keys in that order.
 */
export async function putOldOrphans(
  store: ObjectStore,
  clock: ManualClock,
  count: number,
): Promise<string[]> {
  const keys: string[] = [];
  for (let i = 0; i < count; i++) {
    const key = `q/payload/${ulid(clock.now() - ORPHAN_MIN_AGE_MS - 60_000 + i)}`;
    await store.put(key, new Uint8Array(20));
    keys.push(key);
  }
  return keys;
}

/** A payload above the tests' offload threshold (10 bytes): stored as an object of its own. */
export const BIG = "x".repeat(100);

/** A memory store that counts the listings of the payload folder. */
export class ListCountingStore extends MemoryStore {
  payloadLists = 0;
  override list(prefix: string, options?: ListOptions): Promise<ListPage> {
    if (prefix === "q/payload/") this.payloadLists++;
    return super.list(prefix, options);
  }
}

/** The error of a store that refuses a delete for good (a permission or a retention rule). */
export const refusedForGood = () => new StorageError("403 AccessDenied", { permanent: true });

/** Makes `faults` refuse, for good, every delete of exactly the objects `keys`. */
export function refuseDeletesForGood(faults: FaultStore, keys: readonly string[]): void {
  faults.addRule({
    op: "delete",
    keyPattern: new RegExp(`^(${keys.join("|")})$`),
    mode: "before",
    error: refusedForGood,
  });
}

/** Where and what {@link enqueueWithStoredRefusedPut} enqueues, and the refusal. */
export interface RefusedPut {
  keyPrefix: string;
  queue: string;
  payload: string;
  error: () => Error;
}

/**
 * Starts an enqueue of a large payload whose object the store writes and
 * then answers with `error` (once); returns the enqueue and a function that
 * removes the fault if it has not fired.
 */
export function enqueueWithStoredRefusedPut(
  faults: FaultStore,
  queue: Queue,
  put: RefusedPut,
): { enqueued: Promise<string>; unfail: () => void } {
  const unfail = faults.addRule({
    op: "put",
    keyPrefix: put.keyPrefix,
    mode: "after",
    times: 1,
    error: put.error,
  });
  return { enqueued: queue.enqueue(put.queue, put.payload), unfail };
}

/** Enqueues a large payload whose object the store writes and then answers with a refusal. */
export async function enqueueWhosePutFailsAfterItStores(
  faults: FaultStore,
  queue: Queue,
): Promise<void> {
  const { enqueued, unfail } = enqueueWithStoredRefusedPut(faults, queue, {
    keyPrefix: "q/payload/",
    queue: "work",
    payload: BIG,
    error: () => new StorageError("403 AccessDenied", { permanent: true }),
  });
  await assert.rejects(enqueued, /AccessDenied/);
  unfail();
}
