import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ShardedStringMap } from "../../src/util/string-map.js";

describe("ShardedStringMap", () => {
  it("answers as a Map does through sets, overwrites and deletes", () => {
    const sharded = new ShardedStringMap<number>();
    const plain = new Map<string, number>();
    let x = 99;
    for (let i = 0; i < 20_000; i++) {
      x = (x * 1_103_515_245 + 12_345) % 2 ** 31;
      const key = `k-${x % 5_000}`;
      if (x % 3 === 0) assert.equal(sharded.delete(key), plain.delete(key));
      else {
        sharded.set(key, i);
        plain.set(key, i);
      }
      assert.equal(sharded.size, plain.size);
    }
    for (let k = 0; k < 5_000; k++) {
      assert.equal(sharded.get(`k-${k}`), plain.get(`k-${k}`));
      assert.equal(sharded.has(`k-${k}`), plain.has(`k-${k}`));
    }
    assert.equal(sharded.get(""), undefined);
    assert.equal(sharded.delete("absent"), false);
  });

  // A Map's growth rehashes all it holds at once; a shard holds a 256th of the keys only if
  // the hash reads the part of an id that varies, wherever a caller puts it.
  for (const [scheme, idOf] of [
    ["a counter at the end", (i: number) => `order-${i}`],
    ["a counter before a fixed suffix", (i: number) => `tenant-${i}:send-email`],
    ["a padded counter first", (i: number) => `${String(i).padStart(12, "0")}-reminder-v1`],
    [
      "a counter in the middle of long fixed parts",
      (i: number) => `customer-account-${i}-monthly-invoice-reminder`,
    ],
    [
      "one or two characters",
      (i: number) => String.fromCharCode(32 + (i % 90), 32 + (Math.floor(i / 90) % 90)),
    ],
  ] as const)
    it(`spreads ids with ${scheme}: no shard holds much more than its part`, () => {
      const map = new ShardedStringMap<number>();
      const n = scheme === "one or two characters" ? 8_100 : 100_000;
      for (let i = 0; i < n; i++) map.set(idOf(i), i);
      assert.equal(map.size, n);
      // 256 shards: about n / 256 each.
      assert.ok(map.largestShard() < n / 128, `largest shard ${map.largestShard()} of ${n}`);
    });
});
