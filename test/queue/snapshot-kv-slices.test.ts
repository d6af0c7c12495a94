/**
 * The KV section of a checkpoint is written in slices bounded by bytes, not
 * only by a count: values may be 256 KiB each, so 256 of them between two
 * budget checks are 64 MiB, one event-loop turn of a few hundred milliseconds.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { KvMap } from "../../src/queue/kv-map.js";
import { kvSectionWriter } from "../../src/queue/snapshot-kv.js";

const SPENT = { spent: () => true };

describe("the KV section of a checkpoint", () => {
  it("is written a bounded number of bytes per budget check when values are large", () => {
    const count = 32;
    const kv = new KvMap();
    for (let i = 0; i < count; i++) kv.set(`key-${i}`, Buffer.alloc(256 * 1024, i));
    const whole = kvSectionWriter(kv.freeze());
    const expected = new Uint8Array(whole.bytes);
    assert.ok(whole.step(expected, 0, { spent: () => false }));
    const writer = kvSectionWriter(kv.freeze());
    const out = new Uint8Array(writer.bytes);
    let steps = 1;
    while (!writer.step(out, 0, SPENT)) steps++;
    // 8 MiB of values: a step takes those within a megabyte and the one that crosses it.
    assert.ok(steps >= count / 5, `${count} values of 256 KiB in ${steps} steps`);
    assert.deepEqual(out, expected);
  });
});
