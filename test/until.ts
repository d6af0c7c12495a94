/**
 * Waiting in tests for something the queue does in the background (a
 * checkpoint, a settlement). Checked every millisecond (not after every turn,
 * which would spin a core while the store's I/O runs on other threads); the
 * bound is wall time, not a count of turns.
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
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  assert.fail(`${what} never held within ${timeoutMs} ms`);
}
