/**
 * The stores every jobs-API test runs against (MemoryStore and FileStore),
 * a queue opened on one with a ManualClock, and reopening it (clean close,
 * or dropped without a close as a crash would).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after } from "node:test";
import { ManualClock } from "../../src/clock.js";
import { silentLogger } from "../../src/logger.js";
import type { OpenOptions } from "../../src/queue/options.js";
import { Queue } from "../../src/queue/queue.js";
import { FileStore } from "../../src/store/file.js";
import { MemoryStore } from "../../src/store/memory.js";
import type { ObjectStore } from "../../src/store/types.js";

const dirs: string[] = [];
after(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

/** A fresh temporary directory, removed when the test file ends. */
export async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "taquba-jobs-"));
  dirs.push(dir);
  return dir;
}

export interface StoreKind {
  readonly name: string;
  make(): Promise<ObjectStore>;
}

/** MemoryStore and FileStore (fsync off: these tests do not pull the plug on the machine). */
export const STORES: readonly StoreKind[] = [
  { name: "MemoryStore", make: async () => new MemoryStore() },
  { name: "FileStore", make: async () => new FileStore(await tempDir(), { fsync: false }) },
];

export interface Opened {
  queue: Queue;
  store: ObjectStore;
  clock: ManualClock;
  /** Opens the store again with the same options (the caller closed or abandoned `queue`). */
  reopen(extra?: OpenOptions): Promise<Queue>;
}

/** A queue on a new store of `kind`, driven by a ManualClock. */
export async function openOn(kind: StoreKind, options: OpenOptions = {}): Promise<Opened> {
  const store = await kind.make();
  const clock = new ManualClock(1_700_000_000_000);
  const open = (extra: OpenOptions = {}) =>
    Queue.open(store, "q", {
      clock,
      logger: silentLogger,
      flushIntervalMs: 0,
      ...options,
      ...extra,
    });
  return { queue: await open(), store, clock, reopen: open };
}

/** Lets pending promise reactions and I/O callbacks run. */
export async function turns(n = 5): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
}

export function text(bytes: Uint8Array | undefined): string | undefined {
  return bytes === undefined ? undefined : Buffer.from(bytes).toString("utf8");
}
