/** Watching for promise rejections nobody handles (which end a Node process). */
import assert from "node:assert/strict";

/**
 * Records the promise rejections nobody handles from now on. `check()` waits
 * a few turns (a rejection is reported after the turn it happened in) and
 * asserts there were none; `stop()` stops recording.
 */
export function watchUnhandledRejections(): { check(): Promise<void>; stop(): void } {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown): void => {
    unhandled.push(reason);
  };
  process.on("unhandledRejection", onUnhandled);
  return {
    async check() {
      for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual(unhandled, []);
    },
    stop() {
      process.off("unhandledRejection", onUnhandled);
    },
  };
}
