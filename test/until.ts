/**
 * Waiting in tests for something the queue does in the background (a
 * checkpoint, a settlement). Checked after every turn of the event loop; the
 * bound is wall time, not a count of turns, because the store's I/O runs on
 * other threads and an idle loop turns thousands of times while it waits.
 */
import assert from "node:assert/strict";

/** Resolves once `condition()` holds; fails the test after `timeoutMs` of wall time. */
export async function until(
  condition: () => boolean | Promise<boolean>,
  what = "condition",
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (await condition()) return;
    await new Promise((resolve) => setImmediate(resolve));
  }
  assert.fail(`${what} never held within ${timeoutMs} ms`);
}
