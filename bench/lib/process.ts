import { setTimeout as sleep } from "node:timers/promises";

/** Run a full garbage collection if the process was started with `--expose-gc`. */
export async function collectGarbage(): Promise<boolean> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) return false;
  // Twice, with a turn of the event loop between: weak callbacks and finalisers
  // scheduled by the first pass are released by the second.
  gc();
  await sleep(10);
  gc();
  return true;
}

/** Bytes held by the JS heap plus buffers outside it (payloads live in ArrayBuffers). */
export function heldBytes(): number {
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.external;
}

export { sleep };

/**
 * Keep the process alive until `work` settles. taquba's own timers (claim
 * waits, flush windows) are unref'd so they never hold a process open; a
 * benchmark whose every task is parked in such a wait would otherwise exit
 * mid-run.
 */
export async function holdOpen<T>(work: Promise<T>): Promise<T> {
  const timer = setInterval(() => {}, 1_000);
  try {
    return await work;
  } finally {
    clearInterval(timer);
  }
}
