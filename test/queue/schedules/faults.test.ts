/**
 * A fire whose write fails — cleanly (nothing stored) or ambiguously (stored,
 * but reported failed) — is never lost and never doubled: the queue fails,
 * and the next owner finds the fire either durable once or missed and caught up.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MemoryStore } from "../../../src/store/memory.js";
import { FaultStore } from "../../../src/store/wrappers/fault.js";
import { clockAt, firesOf, open, settle } from "./helpers.js";

const MINUTE = 60_000;
const QUICK_RETRY = { retry: { baseDelayMs: 1, maxDelayMs: 2, maxElapsedMs: 50 } };

describe("schedules: store faults", { timeout: 60_000 }, () => {
  for (const mode of ["before", "after"] as const) {
    it(`a fire whose WAL write fails ${mode} taking effect fires exactly once in the end`, async () => {
      const inner = new MemoryStore();
      const faults = new FaultStore(inner);
      const clock = clockAt("2027-01-01T00:00:00Z");
      const t0 = clock.now();
      const queue = await open(faults, clock, { log: QUICK_RETRY });
      await queue.schedule("f", { everyMs: MINUTE, queue: "jobs", payload: "", catchUp: "latest" });
      await settle(queue);
      faults.addRule({ op: "put", keyPrefix: "q/wal/", mode });
      clock.advance(MINUTE);
      const flushed = await queue.flush().then(
        () => true,
        () => false,
      );
      // Nothing stored: the queue fails for good rather than go on without the fire. Stored
      // but reported failed: the log's write token shows the write landed, so it goes on.
      assert.equal(flushed, mode === "after");
      assert.equal(queue.closed, mode === "before");
      // The next owner (a takeover: the first is not closed) finds the fire once either way.
      const reopened = await open(inner, clock);
      await settle(reopened);
      assert.deepEqual(await firesOf(reopened, "jobs", "f"), [t0 + MINUTE]);
      clock.advance(MINUTE);
      await settle(reopened);
      assert.deepEqual(await firesOf(reopened, "jobs", "f"), [t0 + MINUTE, t0 + 2 * MINUTE]);
      await reopened.close();
      await queue.close().catch(() => undefined);
    });
  }
});
