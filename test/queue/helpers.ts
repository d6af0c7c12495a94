import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after } from "node:test";
import { type Clock, ManualClock } from "../../src/clock.js";
import type { TaqubaError } from "../../src/errors.js";
import { silentLogger } from "../../src/logger.js";
import type { OpenOptions } from "../../src/queue/options.js";
import { Queue } from "../../src/queue/queue.js";
import type { EnqueueRecord } from "../../src/queue/records/enqueue.js";
import { Tag } from "../../src/queue/records/tags.js";
import type { Claim } from "../../src/queue/types.js";
import { FileStore } from "../../src/store/file.js";
import { MemoryStore } from "../../src/store/memory.js";
import type { ObjectStore } from "../../src/store/types.js";

export interface TestQueue {
  queue: Queue;
  clock: ManualClock;
  store: ObjectStore;
}

/** A queue on a MemoryStore driven by a ManualClock, with quiet logging and a short flush window. */
export async function openTestQueue(
  options: OpenOptions = {},
  store: ObjectStore = new MemoryStore(),
  clock: ManualClock = new ManualClock(),
): Promise<TestQueue> {
  const queue = await Queue.open(store, "q", {
    clock,
    logger: silentLogger,
    flushIntervalMs: 0,
    ...options,
  });
  return { queue, clock, store };
}

/** Claim from `queue` and fail the test if nothing is claimable. */
export async function mustClaim(queue: Queue, name: string, leaseMs?: number): Promise<Claim> {
  const claim = await queue.claim(name, leaseMs === undefined ? {} : { leaseMs });
  assert.ok(claim !== null, `expected a claimable job on "${name}"`);
  return claim;
}

/** The error a promise rejects with (fails if it resolves). */
export async function rejection(promise: Promise<unknown>): Promise<TaqubaError> {
  try {
    await promise;
  } catch (error) {
    return error as TaqubaError;
  }
  assert.fail("expected a rejection");
}

export function text(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("utf8");
}

/** No-backoff config so nacks requeue at once. */
export const NO_BACKOFF = { defaultQueueConfig: { retryBackoffBaseMs: 0 } } as const;

/**
 * Sets how long one slice of `queue`'s bulk work runs (through the test-only
 * hook): 0 makes every slice do its smallest step, then yield.
 */
export function setSliceMs(queue: Queue, ms: number): void {
  (queue as unknown as Record<symbol, (ms: number) => void>)[Symbol.for("taquba.setSliceMs")]!(ms);
}

/** Keys of WAL objects (for holding or failing their writes). */
export const WAL = /\/wal\//;
/** The log gives up on a failing store within a few real milliseconds. */
export const FAIL_FAST: OpenOptions = {
  log: { logger: silentLogger, retry: { baseDelayMs: 1, maxDelayMs: 1, maxElapsedMs: 20 } },
};

/** Lets pending promise reactions and I/O callbacks run. */
export async function turns(n = 5): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
}

/** Tracks whether a promise settled, without handling its rejection for the caller. */
export function watch<T>(promise: Promise<T>): { settled: () => boolean } {
  let settled = false;
  promise.then(
    () => {
      settled = true;
    },
    () => {
      settled = true;
    },
  );
  return { settled: () => settled };
}

/**
 * A MemoryStore and a FileStore (each in a fresh directory under the system's
 * temp directory, removed after the file's tests), by name, for tests that
 * run against both.
 */
export function memoryAndFileStores(prefix: string): [string, () => Promise<ObjectStore>][] {
  const dirs: string[] = [];
  after(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });
  return [
    ["MemoryStore", async () => new MemoryStore()],
    [
      "FileStore",
      async () => {
        const dir = await mkdtemp(join(tmpdir(), prefix));
        dirs.push(dir);
        return new FileStore(dir);
      },
    ],
  ];
}

/**
 * `queue` as an application that loads both the ESM and the CommonJS build
 * hands it to the other build's functions: the same methods and accessors,
 * but not an instance of this build's `Queue` class.
 */
export function otherBuildsQueue(queue: Queue): Queue {
  const copy: Record<string | symbol, unknown> = {};
  // `Queue` and the classes it extends, nearest first (a name already copied is not overwritten).
  for (
    let proto: object | null = Queue.prototype;
    proto !== null && proto !== Object.prototype;
    proto = Object.getPrototypeOf(proto)
  ) {
    // Symbol keys too: internal hooks are registered under `Symbol.for` names so both builds find them.
    for (const name of Reflect.ownKeys(proto)) {
      if (name === "constructor" || Object.hasOwn(copy, name)) continue;
      const descriptor = Object.getOwnPropertyDescriptor(proto, name);
      const getter = descriptor?.get;
      if (getter !== undefined)
        Object.defineProperty(copy, name, { get: () => getter.call(queue) });
      else if (typeof descriptor?.value === "function") copy[name] = descriptor.value.bind(queue);
    }
  }
  assert.ok(!(copy instanceof Queue));
  return copy as unknown as Queue;
}

/** A clock taquba cannot see move (neither the system clock nor a `ManualClock`) that a test steps forward. */
export interface SteppedClock {
  readonly kind: string;
  readonly clock: Clock;
  /** Moves the clock forward by `ms` at once, without a word to taquba. */
  step(ms: number): void;
}

/**
 * One clock of each kind taquba cannot see move: `now()` only (API's
 * `Clock`), both readings stepping together, and `now()` only over a
 * `ManualClock` (a test's wrapper). Timers re-read such clocks on real time.
 */
export function steppedClocks(): SteppedClock[] {
  let nowOnly = 0;
  let both = 0;
  const manual = new ManualClock(Date.now());
  return [
    {
      kind: "now() only",
      clock: { now: () => Date.now() + nowOnly },
      step: (ms) => {
        nowOnly += ms;
      },
    },
    {
      kind: "now() and monotonicNow() stepping together",
      clock: { now: () => Date.now() + both, monotonicNow: () => performance.now() + both },
      step: (ms) => {
        both += ms;
      },
    },
    {
      kind: "now() only, over a ManualClock",
      clock: { now: () => manual.now() },
      step: (ms) => manual.advance(ms),
    },
  ];
}

/** An enqueue record of job `id` in queue "q" (one 1-byte payload, 3 attempts), with `extra` over it. */
export function enqueueRecord(id: string, extra: Partial<EnqueueRecord> = {}): EnqueueRecord {
  return {
    tag: Tag.Enqueue,
    id,
    queue: "q",
    payload: Buffer.from("x"),
    headers: undefined,
    priority: 0,
    maxAttempts: 3,
    enqueuedAt: 1,
    runAt: undefined,
    dedupKey: undefined,
    ...extra,
  };
}

const ULID_DIGITS = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/**
 * The id a queue's generator issues after `id` when the clock has not moved:
 * its last 8 digits (the counter) plus one. What a caller can compute from
 * an id an enqueue returned.
 */
export function followingId(id: string): string {
  const digits = [...id];
  for (let i = 25; i >= 18; i--) {
    const d = ULID_DIGITS.indexOf(digits[i]!);
    if (d < 31) {
      digits[i] = ULID_DIGITS[d + 1]!;
      return digits.join("");
    }
    digits[i] = "0";
  }
  throw new Error(`the counter of ${id} is full`);
}
