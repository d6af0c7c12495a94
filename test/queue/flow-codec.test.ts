/**
 * The checkpoint bytes of a parent's flow children: what earlier releases
 * wrote still decodes (a child without the removed bit is not removed), and
 * the removed bit is written as it will be read.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ByteReader, ByteWriter, DecodeError } from "../../src/queue/binary.js";
import { flowExtrasMask, readFlowExtras, writeFlowExtras } from "../../src/queue/flow-codec.js";
import type { JobExtras } from "../../src/queue/table.js";

const OPEN = "01J0000000000000000000000A";
const DONE = "01J0000000000000000000000B";
const REMOVED = "01J0000000000000000000000C";

const extras: JobExtras = {
  flow: {
    waiting: 1,
    children: [
      { id: OPEN, publicId: "open", ended: false },
      { id: DONE, publicId: DONE, ended: true, result: Buffer.from("ok") },
      { id: REMOVED, publicId: "gone", ended: true, removed: true },
    ],
  },
};

/** Before the removed bit existed: the same children, the third one plain ended. */
const EARLIER =
  "0103" +
  "0190000000000000000000000000000a" +
  "046f70656e00" +
  "0190000000000000000000000000000b" +
  "1a30314a3030303030303030303030303030303030303030303042" +
  "03026f6b" +
  "0190000000000000000000000000000c" +
  "04676f6e6501";
/** The same with the removed bit (4) on the third child. */
const WITH_REMOVED = `${EARLIER.slice(0, -2)}05`;

function encode(value: JobExtras): string {
  const w = new ByteWriter();
  writeFlowExtras(w, value);
  return Buffer.from(w.finish()).toString("hex");
}

function decode(hex: string, mask: number): JobExtras {
  const out: { -readonly [K in keyof JobExtras]: JobExtras[K] } = {};
  readFlowExtras(new ByteReader(Buffer.from(hex, "hex")), mask, out);
  return out;
}

describe("flow children in checkpoints", () => {
  it("a removed child is written with its bit; earlier bytes decode as not removed", () => {
    const mask = flowExtrasMask(extras);
    assert.equal(encode(extras), WITH_REMOVED);
    assert.deepEqual(decode(WITH_REMOVED, mask), extras);
    const earlier = decode(EARLIER, mask);
    assert.deepEqual(earlier.flow?.children[2], { id: REMOVED, publicId: "gone", ended: true });
  });

  it("a removed child that is open is rejected", () => {
    const open = `${EARLIER.slice(0, -2)}04`;
    assert.throws(() => decode(open, flowExtrasMask(extras)), DecodeError);
  });
});
