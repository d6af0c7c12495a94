/**
 * Test helpers for FileStore's writer thread: a store whose thread is up
 * before its first write (a store otherwise starts it after a few writes),
 * optionally with fault injection.
 */
import assert from "node:assert/strict";
import type { Worker } from "node:worker_threads";
import { FileStore, type FileStoreOptions } from "../../src/store/file.js";
import { FileWriter } from "../../src/store/file-writer.js";
import { startWriterThread } from "../../src/store/file-writer-lifecycle.js";
import { until } from "../until.js";

/**
 * A FileStore whose writer thread is up; `faults` lets tests fail its directory
 * fsyncs. Its thread stays up through any pause of a loaded machine (a store's
 * own ends after a short idle time).
 */
export async function storeOnThread(
  directory: string,
  options: FileStoreOptions = {},
  faults = false,
): Promise<{ store: FileStore; writer: FileWriter }> {
  const writer = new FileWriter({ start: () => startWriterThread(faults), idleMs: 600_000 });
  assert.equal(await writer.started(), true, "the writer thread is up");
  return { store: new FileStore(directory, options, writer), writer };
}

/**
 * Fails with EIO the next `count` directory fsyncs of `path` that the writer
 * thread makes (one started with `faults`): the one after a put's link. The
 * thread takes this message in order with the writes posted after it.
 */
export function failWriterDirSync(writer: FileWriter, path: string, count = 1): void {
  const thread: Worker | undefined = writer.thread;
  assert.ok(thread !== undefined, "the writer thread runs");
  thread.postMessage({ id: 0, op: "failDirSyncs", dir: path, count });
}

/**
 * Blocks the writer thread (one started with `faults`) before the writes
 * posted after this call, until the returned function is called. Resolves
 * once the thread is blocked: the writes posted from then on reach it
 * together, as one batch, when it is released.
 */
export async function holdWriter(writer: FileWriter): Promise<() => void> {
  const hold = queueHold(writer);
  await until(hold.held, "the writer thread held", 10_000);
  return hold.release;
}

/**
 * Queues a hold of the writer thread (one started with `faults`) after the
 * writes posted before it, without waiting for the thread to reach it: it
 * stops there, inside the batch it is in.
 */
export function queueHold(writer: FileWriter): { held: () => boolean; release: () => void } {
  const thread: Worker | undefined = writer.thread;
  assert.ok(thread !== undefined, "the writer thread runs");
  const state = new Int32Array(new SharedArrayBuffer(8));
  thread.postMessage({ id: 0, op: "hold", until: state });
  return {
    held: () => Atomics.load(state, 1) === 1,
    release: () => {
      Atomics.store(state, 0, 1);
      Atomics.notify(state, 0);
    },
  };
}

/**
 * Crashes the writer thread (one started with `faults`) with an uncaught
 * exception (an `Error`, or one of the class `as`) once it reaches this
 * message, after the writes posted before it in the same batch have been
 * placed and before their directory fsync.
 */
export function crashWriter(writer: FileWriter, as?: "RangeError" | "TypeError"): void {
  const thread: Worker | undefined = writer.thread;
  assert.ok(thread !== undefined, "the writer thread runs");
  thread.postMessage({ id: 0, op: "crash", as });
}

/** The keys' files of the puts the store posts to `writer`'s current thread from now on. */
export function postedPuts(writer: FileWriter): string[] {
  const thread: Worker | undefined = writer.thread;
  assert.ok(thread !== undefined, "the writer thread runs");
  const files: string[] = [];
  const post = thread.postMessage.bind(thread);
  thread.postMessage = (...args: Parameters<Worker["postMessage"]>) => {
    const message = args[0] as { op?: string; file?: string };
    if (message.op === "put" && message.file !== undefined) files.push(message.file);
    post(...args);
  };
  return files;
}

/**
 * A FileStore that never starts its writer thread: every write takes the
 * thread pool, as the writes before the thread is up, bodies over the
 * thread's limit and every write of a store whose thread cannot start do.
 */
export function storeOnPool(directory: string, options: FileStoreOptions = {}): FileStore {
  return new FileStore(
    directory,
    options,
    new FileWriter({ startAfter: Number.POSITIVE_INFINITY }),
  );
}

/** Collects the process warnings emitted while `run` runs. */
export async function warningsDuring(run: () => Promise<void>): Promise<string[]> {
  const seen: string[] = [];
  const listener = (warning: Error) => seen.push(warning.message);
  process.on("warning", listener);
  try {
    await run();
    // Warnings are emitted on the next tick.
    await new Promise((resolve) => setImmediate(resolve));
  } finally {
    process.off("warning", listener);
  }
  return seen;
}
