import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { KeyedIndex } from "../../src/queue/keyed-index.js";
import { seededRandom } from "../../src/util/random.js";
import { seedsToRun } from "../reliability/lib/seeds.js";

/** Keys that share long prefixes and tails (where a comparison has to read far into both). */
function keyOf(n: number): string {
  return `order-${(n % 7).toString()}-${n.toString(36).padStart(6, "0")}-v1`;
}

/** Seeds of the property test (`TAQUBA_SEED=<n>` replays one). */
const SEEDS = 8;

function sortedHandles(keys: Map<number, string>, live: Set<number>): number[] {
  return [...live].sort((a, b) => (keys.get(a)! < keys.get(b)! ? -1 : 1));
}

describe("keyed index (jobs by their own id)", () => {
  it("agrees with a sorted list under random inserts, deletes and seeks, across splits and merges", () => {
    for (const seed of seedsToRun(SEEDS, 1)) {
      const next = seededRandom(seed);
      // Handles are reused with a new key, as table rows are.
      const keys = new Map<number, string>();
      const live = new Set<number>();
      /** The keys of the live handles: no two live jobs share their own id. */
      const liveKeys = new Set<string>();
      const index = new KeyedIndex((h) => keys.get(h)!);
      let fresh = 0;
      const sizes = [1, 700, 5_000];
      for (const target of sizes) {
        for (let step = 0; step < target * 4; step++) {
          const grow = live.size < target ? next() < 0.7 : next() < 0.4;
          if (grow || live.size === 0) {
            // Reuse a free handle half of the time.
            let h = Math.floor(next() * (target * 2));
            if (live.has(h)) h = target * 2 + fresh;
            let key: string;
            do key = keyOf(Math.floor(next() * 1e9) + fresh++);
            while (liveKeys.has(key));
            keys.set(h, key);
            liveKeys.add(key);
            index.insert(h);
            live.add(h);
          } else {
            const pick = [...live][Math.floor(next() * live.size)]!;
            assert.equal(index.delete(pick), true, `seed ${seed} step ${step}`);
            live.delete(pick);
            liveKeys.delete(keys.get(pick)!);
            assert.equal(index.delete(pick), false);
          }
          if (step % 997 === 0) assert.equal(index.problems(), null, `seed ${seed} step ${step}`);
        }
        assert.equal(index.problems(), null);
        const expected = sortedHandles(keys, live);
        assert.deepEqual(index.toArray(), expected, `seed ${seed}`);
        assert.equal(index.size, live.size);
        for (const h of live) assert.equal(index.has(h), true);
        // seekAfter: the first job whose key sorts after a key that is, or is not, in the index.
        for (let k = 0; k < 50 && expected.length > 0; k++) {
          const at = Math.floor(next() * expected.length);
          const key = keys.get(expected[at]!)!;
          for (const probe of [key, `${key}-`, key.slice(0, -1), ""]) {
            const position = index.seekAfter(probe);
            const first = expected.findIndex((h) => keys.get(h)! > probe);
            assert.equal(index.next(position), first === -1 ? -1 : expected[first]);
          }
        }
      }
      // Empty it from the front (the requeue order of an open), then from the back.
      const rest = sortedHandles(keys, live);
      for (const h of rest.slice(0, rest.length >> 1)) assert.equal(index.delete(h), true);
      for (const h of rest.slice(rest.length >> 1).reverse()) assert.equal(index.delete(h), true);
      assert.equal(index.size, 0);
      assert.equal(index.problems(), null);
      assert.deepEqual(index.toArray(), []);
    }
  });

  it("builds from sorted pieces with or without their keys, then takes inserts anywhere", () => {
    const keys = new Map<number, string>();
    for (let h = 0; h < 3_000; h++) keys.set(h, keyOf(h * 3));
    const sorted = [...keys.keys()].sort((a, b) => (keys.get(a)! < keys.get(b)! ? -1 : 1));
    const index = new KeyedIndex((h) => keys.get(h)!);
    index.appendSorted(sorted, 0, 1_000);
    index.appendSorted(
      sorted,
      1_000,
      2_000,
      sorted.map((h) => keys.get(h)!),
    );
    index.appendSorted(sorted, 2_000);
    assert.equal(index.problems(), null);
    assert.deepEqual(index.toArray(), sorted);
    for (let h = 3_000; h < 4_000; h++) {
      keys.set(h, keyOf((h - 3_000) * 9 + 1));
      index.insert(h);
    }
    assert.equal(index.problems(), null);
    assert.deepEqual(
      index.toArray(),
      [...keys.keys()].sort((a, b) => (keys.get(a)! < keys.get(b)! ? -1 : 1)),
    );
    assert.throws(() => index.insert(3_500), /already in the index/);
  });

  it("reports a handle kept under a key that is no longer its own", () => {
    const keys = new Map<number, string>([
      [1, "a"],
      [2, "b"],
    ]);
    const index = new KeyedIndex((h) => keys.get(h)!);
    index.insert(1);
    index.insert(2);
    keys.set(2, "c");
    assert.match(index.problems() ?? "", /stale key/);
  });
});
