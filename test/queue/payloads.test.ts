import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ManualClock } from "../../src/clock.js";
import { silentLogger } from "../../src/logger.js";
import { ORPHAN_MIN_AGE_MS } from "../../src/queue/payloads.js";
import { Queue } from "../../src/queue/queue.js";
import { MemoryStore } from "../../src/store/memory.js";
import { FaultStore } from "../../src/store/wrappers/fault.js";
import { turns } from "../jobs/stores.js";

function big(size: number, seed = 7): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 31 + seed) & 0xff;
  return bytes;
}

describe("collecting orphaned payload objects", { timeout: 60_000 }, () => {
  it("deletes nothing once another writer took the store over while it listed", async () => {
    const inner = new MemoryStore();
    const faults = new FaultStore(inner);
    const options = (clock: ManualClock) => ({
      clock,
      logger: silentLogger,
      payloadOffloadBytes: 10,
      flushIntervalMs: 0,
      heartbeatMs: null,
    });
    await (await Queue.open(inner, "q", options(new ManualClock(1_700_000_000_000)))).close();
    // The next writer's collection (at its open) is held in its listing of the objects.
    const listing = faults.pause({ op: "list", keyPrefix: "q/payload/" });
    const stale = await Queue.open(faults, "q", options(new ManualClock(1_700_000_000_000)));
    await listing.whenHeld(1);
    // Another process takes the store over; its host's clock is behind, so the object of its
    // enqueue carries a time the first writer's clock finds older than the minimum age.
    const behind = new ManualClock(1_700_000_000_000 - 2 * ORPHAN_MIN_AGE_MS);
    const current = await Queue.open(inner, "q", options(behind));
    try {
      const id = await current.enqueue("work", big(100));
      const [object] = (await inner.list("q/payload/")).objects;
      assert.ok(object !== undefined);
      // The stale writer's listing goes on, and shows that object, which its state lacks.
      listing.release();
      await turns(20);
      assert.ok((await inner.head(object.key)) !== null, "the current writer's object is kept");
      assert.deepEqual((await current.getJob(id))?.payload, Buffer.from(big(100)));
    } finally {
      await stale.close().catch(() => {});
      await current.close();
    }
  });
});
