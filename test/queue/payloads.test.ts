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
  it("does not take a look for a newer writer that listed the manifests before its listing ended", async () => {
    const inner = new MemoryStore();
    const faults = new FaultStore(inner);
    const options = (clock: ManualClock, heartbeatMs: number | null) => ({
      clock,
      logger: silentLogger,
      payloadOffloadBytes: 10,
      flushIntervalMs: 0,
      heartbeatMs,
    });
    await (await Queue.open(inner, "q", options(new ManualClock(1_700_000_000_000), null))).close();
    const listing = faults.pause({ op: "list", keyPrefix: "q/payload/" });
    const clock = new ManualClock(1_700_000_000_000);
    const stale = await Queue.open(faults, "q", options(clock, 1_000));
    await listing.whenHeld(1);
    // A heartbeat's look for a newer writer lists the manifests now, before the takeover, and
    // its answer is held (a slow or retried request).
    const look = faults.pause({ op: "list", keyPrefix: "q/manifest/", mode: "after" });
    clock.advance(1_000);
    await look.whenHeld(1);
    const behind = new ManualClock(1_700_000_000_000 - 2 * ORPHAN_MIN_AGE_MS);
    const current = await Queue.open(inner, "q", options(behind, null));
    try {
      const id = await current.enqueue("work", big(100));
      const [object] = (await inner.list("q/payload/")).objects;
      assert.ok(object !== undefined);
      // The collection's listing ends and shows that object while the older look is still out.
      listing.release();
      await turns(20);
      look.release();
      await turns(20);
      assert.ok((await inner.head(object.key)) !== null, "the current writer's object is kept");
      assert.deepEqual((await current.getJob(id))?.payload, Buffer.from(big(100)));
    } finally {
      look.release();
      await stale.close().catch(() => {});
      await current.close();
    }
  });
});
