import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { apply } from "../../src/queue/apply.js";
import { IdGenerator } from "../../src/queue/ids.js";
import { JobsByIdBuilder } from "../../src/queue/jobs-by-id.js";
import { State } from "../../src/queue/state.js";
import { SliceBudget } from "../../src/util/slices.js";
import { enqueueRecord } from "./helpers.js";

function allOwn(n: number): { state: State; handles: number[] } {
  const state = new State();
  const gen = new IdGenerator(null, 1);
  const handles: number[] = [];
  let x = 11;
  for (let i = 0; i < n; i++) {
    x = (x * 1_103_515_245 + 12_345) % 2 ** 31;
    const id = gen.next(1_000 + i);
    apply(state, enqueueRecord(id, { maxAttempts: 1, jobId: `k${x % 1_000_000}-${i}` }));
    handles.push(state.find(id));
  }
  return { state, handles };
}

describe("the by-id builder at chunk boundaries", { timeout: 300_000 }, () => {
  for (const n of [0, 1, 4_095, 4_096, 4_097, 8_191, 8_192, 8_193, 12_289]) {
    it(`${n} own ids`, () => {
      const { state, handles } = allOwn(n);
      const expected = handles.map((h) => state.orders.ownIdOf(h)!).sort();
      for (const piece of [n || 1, 1_000, 4_096, 4_097]) {
        for (const sliced of [false, true]) {
          const b = new JobsByIdBuilder(state.orders);
          const budget = new SliceBudget(0, () => 0);
          budget.start();
          for (let at = 0; at < n; at += piece) {
            if (sliced) while (!b.settle(budget));
            else b.settle();
            b.append(handles, at, Math.min(n, at + piece));
          }
          if (sliced) while (!b.complete(budget));
          else b.complete();
          const r = b.result();
          assert.equal(r.problems(), null);
          assert.deepEqual(
            r.ownById.toArray().map((h) => state.orders.ownIdOf(h)),
            expected,
            `n ${n} piece ${piece} sliced ${sliced}`,
          );
          assert.equal(r.ownById.size, n);
        }
      }
    });
  }
});
