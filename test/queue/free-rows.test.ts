import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FreeRows } from "../../src/queue/free-rows.js";

describe("free rows of the job table", () => {
  it("hand rows back last-in first-out across many chunks, as an array would", () => {
    const rows = new FreeRows();
    const reference: number[] = [];
    assert.equal(rows.pop(), undefined);
    // Grow past several chunks, shrink across their edges, grow again.
    const steps: [number, number][] = [
      [70_000, 0],
      [0, 40_000],
      [20_000, 0],
      [0, 16_384],
      [1, 1],
      [0, 33_617],
      [50_000, 50_000],
    ];
    let next = 0;
    for (const [pushes, pops] of steps) {
      for (let k = 0; k < pushes; k++) {
        rows.push(next);
        reference.push(next);
        next = (next * 7 + 13) % 2_000_003;
      }
      for (let k = 0; k < pops; k++) assert.equal(rows.pop(), reference.pop());
      assert.equal(rows.size, reference.length);
    }
    while (reference.length > 0) assert.equal(rows.pop(), reference.pop());
    assert.equal(rows.pop(), undefined);
    assert.equal(rows.size, 0);
  });
});
