import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InvalidArgumentError } from "../../src/errors.js";
import { checkProgress, MAX_PROGRESS_BYTES, MAX_PROGRESS_DEPTH } from "../../src/queue/progress.js";

/** `target` behind a Proxy that counts the properties read from it. */
function counted<T extends object>(target: T): { value: T; reads: () => number } {
  let reads = 0;
  const value = new Proxy(target, {
    get(t, key, receiver) {
      reads++;
      return Reflect.get(t, key, receiver) as unknown;
    },
  });
  return { value, reads: () => reads };
}

const TOO_BIG = new RegExp(
  `Expected \`value\` to be a JSON value of at most ${MAX_PROGRESS_BYTES} bytes as JSON text, got `,
);

describe("checkProgress", () => {
  it("gives the JSON text of a JSON value, exactly at the size limit too", () => {
    assert.equal(checkProgress({ a: [1, "é", null, true] }, "value"), '{"a":[1,"é",null,true]}');
    const fits = "é".repeat((MAX_PROGRESS_BYTES - 2) / 2);
    assert.equal(Buffer.byteLength(checkProgress(fits, "value")), MAX_PROGRESS_BYTES);
    assert.throws(() => checkProgress(`${fits}a`, "value"), TOO_BIG);
    // Escapes count as written: 6 bytes for each control character.
    assert.throws(() => checkProgress("\u0001".repeat(11_000), "value"), TOO_BIG);
    // A hole is written as null, as JSON.stringify writes it.
    const holey: unknown[] = [1];
    holey[2] = 2;
    assert.equal(checkProgress(holey, "value"), "[1,null,2]");
  });

  it("stops reading a huge value as soon as it is known to be over the limit", () => {
    const items = counted(Array.from({ length: 3_000_000 }, (_, i) => i));
    assert.throws(() => checkProgress(items.value, "value"), TOO_BIG);
    // Counted reads, not time: a wall-time bound fails on a loaded machine.
    assert.ok(items.reads() < 100, `${items.reads()} reads of a 3,000,000-item array`);

    // Items of a few bytes each: read until the sum passes the limit, not to the end.
    const small = counted(Array.from({ length: 30_000 }, () => "abc"));
    assert.throws(() => checkProgress(small.value, "value"), TOO_BIG);
    assert.ok(small.reads() < 15_000, `${small.reads()} reads of a 30,000-item array`);

    const fields = counted(
      Object.fromEntries(Array.from({ length: 1_000 }, (_, i) => [`k${i}`, "x".repeat(1_000)])),
    );
    assert.throws(() => checkProgress(fields.value, "value"), TOO_BIG);
    assert.ok(fields.reads() < 100, `${fields.reads()} reads of a 1,000-key object`);

    // A huge string is refused by its length, before its escaping is paid for.
    assert.throws(() => checkProgress("x".repeat(50_000_000), "value"), TOO_BIG);
  });

  it("decides a value with a toJSON method on the text it gives, as JSON.stringify writes it", () => {
    // Items over the limit, a small text: accepted.
    const items: unknown[] & { toJSON?: () => unknown } = new Array(40_000).fill(0);
    items.toJSON = () => "small";
    assert.equal(checkProgress(items, "value"), '"small"');
    // A few items, a text over the limit: refused, saying by how much.
    const few: unknown[] & { toJSON?: () => unknown } = [1, 2];
    few.toJSON = () => "x".repeat(MAX_PROGRESS_BYTES);
    assert.throws(() => checkProgress(few, "value"), new RegExp(`${TOO_BIG.source}65538 bytes`));
    // Inherited, as from a polluted prototype: the same.
    const proto = Object.prototype as { toJSON?: () => unknown };
    proto.toJSON = () => 1;
    try {
      const fields = Object.fromEntries(
        Array.from({ length: 1_000 }, (_, i) => [`k${i}`, "x".repeat(1_000)]),
      );
      assert.equal(checkProgress(fields, "value"), "1");
    } finally {
      delete proto.toJSON;
    }
    // Members whose toJSON gives undefined are left out whole, keys included: accepted.
    const gone = () => Object.assign([], { toJSON: () => undefined });
    const members = Object.fromEntries(Array.from({ length: 20_000 }, (_, i) => [`k${i}`, gone()]));
    assert.equal(checkProgress(members, "value"), "{}");
    assert.equal(checkProgress({ ["k".repeat(70_000)]: gone() }, "value"), "{}");
    assert.equal(checkProgress({ first: 0, ...members }, "value"), '{"first":0}');
    // Still refused when the value is not JSON, or too deep.
    const holds: unknown[] & { toJSON?: () => unknown } = [1, undefined];
    holds.toJSON = () => 1;
    assert.throws(() => checkProgress(holds, "value"), InvalidArgumentError);
    let deep: unknown = items;
    for (let i = 0; i < MAX_PROGRESS_DEPTH; i++) deep = [deep];
    assert.throws(() => checkProgress(deep, "value"), /nested at most/);
  });

  it(`refuses a value nested more than ${MAX_PROGRESS_DEPTH} levels deep, saying so`, () => {
    const nested = (depth: number, wrap: (inner: unknown) => unknown): unknown => {
      let value: unknown = 1;
      for (let i = 0; i < depth; i++) value = wrap(value);
      return value;
    };
    for (const wrap of [(v: unknown) => [v], (v: unknown) => ({ a: v })]) {
      const deepest = checkProgress(nested(MAX_PROGRESS_DEPTH, wrap), "value");
      // What a reader gets back can be copied and written out again.
      assert.equal(JSON.stringify(structuredClone(JSON.parse(deepest))), deepest);
      for (const depth of [MAX_PROGRESS_DEPTH + 1, 3_000, 1_000_000])
        assert.throws(
          () => checkProgress(nested(depth, wrap), "value"),
          new RegExp(
            `Expected \`value\` to be a JSON value nested at most ${MAX_PROGRESS_DEPTH} levels deep, got a value nested too deep \\(more than ${MAX_PROGRESS_DEPTH} levels`,
          ),
        );
    }
  });

  it("refuses values that are not JSON with a typed error", () => {
    for (const bad of [undefined, Number.NaN, [1, undefined], { d: new Date(0) }, () => 1])
      assert.throws(() => checkProgress(bad, "value"), InvalidArgumentError);
  });
});
