import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { compareKeys } from "../../src/store/key-order.js";

describe("compareKeys", { timeout: 60_000 }, () => {
  it("orders like the UTF-8 bytes of the keys", () => {
    const sign = (n: number): number => Math.sign(n);
    // Mix ASCII, BMP characters above the surrogate range and astral characters.
    const unit = fc.constantFrom("a", "b", "/", "-", "é", "\ue000", "\uff01", "\uffff", "😀", "𝄞");
    const key = fc.array(unit, { maxLength: 6 }).map((units) => units.join(""));
    fc.assert(
      fc.property(fc.oneof(key, fc.string({ unit: "grapheme" })), key, (a, b) => {
        const bytewise = (x: string, y: string): number =>
          sign(Buffer.compare(Buffer.from(x), Buffer.from(y)));
        assert.equal(sign(compareKeys(a, b)), bytewise(a, b), `${a} vs ${b}`);
        assert.equal(sign(compareKeys(b, a)), bytewise(b, a), `${b} vs ${a}`);
      }),
      { numRuns: 2000 },
    );
    assert.ok(compareKeys("\uff01", "😀") < 0, "U+FF01 sorts before U+1F600 in UTF-8");
    assert.ok("\uff01" > "😀", "while UTF-16 order says the opposite");
    assert.equal(compareKeys("same", "same"), 0);
    assert.ok(compareKeys("a", "a/") < 0);
  });
});
