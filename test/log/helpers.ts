import { ManualClock } from "../../src/clock.js";
import type { FenceContext } from "../../src/log/fencing.js";
import { type LogOptions, openLog } from "../../src/log/index.js";
import { LogKeys } from "../../src/log/keys.js";
import { ManifestReader } from "../../src/log/manifest.js";
import { LogStorage } from "../../src/log/storage.js";
import { silentLogger } from "../../src/logger.js";
import { MemoryStore } from "../../src/store/memory.js";
import type { ObjectStore } from "../../src/store/types.js";
import { listAll } from "../../src/store/types.js";
import { FaultStore } from "../../src/store/wrappers/fault.js";
import { until } from "../until.js";

/** Options for fast tests: quiet, short batching window, quick retries. */
export function testOptions(overrides: LogOptions = {}): LogOptions {
  return {
    logger: silentLogger,
    flushIntervalMs: 1,
    gcMinAgeMs: 0,
    retry: { baseDelayMs: 1, maxDelayMs: 5, maxElapsedMs: 2_000 },
    ...overrides,
  };
}

/**
 * What a writer fence of log "q/" in `store` works with: quick retries, a
 * check every second, epochs valid for 30 s; `sliceNow` for its listings'
 * slices when given.
 */
export function fenceContext(
  store: ObjectStore,
  clock = new ManualClock(),
  sliceNow?: () => number,
): FenceContext {
  const keys = new LogKeys("q/");
  const storage = LogStorage.create(store, {
    clock,
    logger: silentLogger,
    retry: { baseDelayMs: 1, maxDelayMs: 2, maxElapsedMs: 1_000 },
  });
  return {
    storage,
    keys,
    manifests: new ManifestReader(storage, keys),
    clock,
    checkIntervalMs: 1_000,
    epochValidityMs: 30_000,
    walWindow: 4,
    describeLog: `log "q/" in ${store.describe()}`,
    ...(sliceNow === undefined ? {} : { sliceNow }),
  };
}

/** A slice clock each reading of which is a millisecond: a slice is a few requests, on any machine. */
export function countingClock(): () => number {
  let ticks = 0;
  return () => ++ticks;
}

export function rec(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

export function texts(records: readonly Uint8Array[]): string[] {
  return records.map((r) => new TextDecoder().decode(r));
}

export async function keysUnder(store: ObjectStore, prefix: string): Promise<string[]> {
  return (await listAll(store, prefix)).map((o) => o.key);
}

/** Rejection of `promise`, or a failure if it resolved. */
export async function rejection(promise: Promise<unknown>): Promise<Error & { code?: string }> {
  try {
    await promise;
  } catch (error) {
    return error as Error & { code?: string };
  }
  throw new Error("expected the promise to reject");
}

/**
 * A stale opener: the opener reads the newest manifest, then waits (on the
 * store probe) while a busy writer (no manifest history) checkpoints twice,
 * its garbage collection deleting the manifests and WAL objects that came
 * after that read, and with `batchAfter` appends one more batch. The opener
 * opens through `wrap` of the store (the store itself by default);
 * `beforeRelease` runs just before it goes on. Resolves with the open's
 * rejection and the writer, still open.
 */
export async function staleOpen(options: {
  batchAfter: boolean;
  wrap?: (store: ObjectStore) => ObjectStore;
  beforeRelease?: () => void;
}): Promise<{ error: Error & { code?: string }; writer: Awaited<ReturnType<typeof openLog>> }> {
  const inner = new MemoryStore();
  const writer = await openLog(inner, "q", testOptions({ manifestHistory: 0 }));
  let state = "";
  writer.log.setSnapshotSource(() => rec(state));
  for (const text of ["a", "b"]) {
    await writer.log.append(rec(text));
    state += text;
  }
  const slow = new FaultStore(inner);
  const probe = slow.pause({ op: "put", keyPrefix: "q/probe/" });
  const opening = openLog(options.wrap?.(slow) ?? slow, "q", testOptions());
  opening.catch(() => {});
  await probe.whenHeld();
  for (const text of ["c", "d"]) {
    await writer.log.append(rec(text));
    state += text;
    await writer.log.checkpoint();
  }
  if (options.batchAfter) await writer.log.append(rec("e"));
  options.beforeRelease?.();
  probe.release();
  return { error: await rejection(opening), writer };
}

/** Moves `clock` on until `promise` settles (retries sleep on it). */
export async function settleOnClock<T>(clock: ManualClock, promise: Promise<T>): Promise<T> {
  let settled = false;
  const watched = promise.finally(() => {
    settled = true;
  });
  watched.catch(() => {});
  await until(() => {
    clock.advance(100);
    return settled;
  }, "retries on the manual clock");
  return watched;
}
