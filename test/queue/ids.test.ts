import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ManualClock } from "../../src/clock.js";
import { silentLogger } from "../../src/logger.js";
import { Queue } from "../../src/queue/queue.js";
import { MemoryStore } from "../../src/store/memory.js";
import { liveState } from "../reliability/lib/audit.js";
import { ProcessStore } from "../reliability/lib/sim-stores.js";

function open(store: ProcessStore, clock: ManualClock): Promise<Queue> {
  return Queue.open(store, "q", { clock, logger: silentLogger, flushIntervalMs: 0 });
}

describe("job ids never repeat within a store", { timeout: 60_000 }, () => {
  it("not after a crash lost a batch, with the clock at or behind the last durable id", async () => {
    const memory = new MemoryStore();
    const clock = new ManualClock(1_700_000_000_000);
    const first = new ProcessStore(memory, memory);
    const crashed = await open(first, clock);
    const durable = await crashed.enqueue("a", "durable");
    // The next batch is in flight when the process dies: its id was issued, never stored.
    first.stall();
    crashed.enqueue("a", "lost").catch(() => {});
    for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
    const lost = liveState(crashed).lastId!;
    assert.ok(lost > durable);
    first.kill();

    const successor = await open(new ProcessStore(memory, memory), clock);
    assert.equal(await successor.getJob(lost), null, "the lost batch is gone");
    const issued = [];
    for (let i = 0; i < 100; i++) issued.push(await successor.enqueue("a", `after ${i}`));
    assert.ok(!issued.includes(lost), `re-issued the lost id ${lost}`);
    for (const id of issued) assert.ok(id > durable);
    await successor.close();
  });
});
