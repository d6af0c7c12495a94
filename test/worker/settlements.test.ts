/**
 * The worker's settlements, alone: how often the worker is told that
 * settlements ended (each time it looks again for claims to make).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { silentLogger } from "../../src/logger.js";
import type { Queue } from "../../src/queue/queue.js";
import type { Claim } from "../../src/queue/types.js";
import { Settlements } from "../../src/worker/settlements.js";
import { turns } from "../queue/helpers.js";

/** A queue whose acks all go in one write, which lands when `land` is called. */
function oneWriteQueue(): { queue: Queue; land: () => void } {
  let land!: () => void;
  const written = new Promise<void>((resolve) => {
    land = resolve;
  });
  const queue = { ack: () => written } as unknown as Queue;
  return { queue, land };
}

describe("Settlements", () => {
  it("tells the worker once when the settlements of one write end together", async () => {
    const { queue, land } = oneWriteQueue();
    let told = 0;
    const settlements = new Settlements(queue, silentLogger, () => told++);
    for (let i = 0; i < 64; i++)
      void settlements.settle({ id: `job-${i}` } as Claim, { ok: true, result: undefined });
    assert.equal(settlements.size, 64);
    land();
    await turns(3);
    assert.equal(settlements.size, 0);
    assert.equal(told, 1);
    await settlements.drain();
  });

  it("tells the worker again for settlements that end later", async () => {
    let told = 0;
    const first = oneWriteQueue();
    const settlements = new Settlements(first.queue, silentLogger, () => told++);
    void settlements.settle({ id: "a" } as Claim, { ok: true, result: undefined });
    first.land();
    await turns(2);
    assert.equal(told, 1);
    // The same Settlements, acks now going in a later write.
    const second = oneWriteQueue();
    (first.queue as unknown as { ack: unknown }).ack = second.queue.ack;
    void settlements.settle({ id: "b" } as Claim, { ok: true, result: undefined });
    void settlements.settle({ id: "c" } as Claim, { ok: true, result: undefined });
    second.land();
    await turns(2);
    assert.equal(told, 2);
    assert.equal(settlements.size, 0);
  });
});
