import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { ByteReader, ByteWriter, DecodeError } from "../../src/queue/binary.js";
import {
  appendAttempt,
  decodeHistory,
  type EncodedHistory,
  MAX_HISTORY,
  OUTCOMES,
  readHistory,
  writeAttempt,
  writeHistory,
} from "../../src/queue/history.js";
import type { JobAttempt } from "../../src/queue/types.js";
import { unflatStringsIn } from "../heap-strings.js";

const attempt = fc
  .record(
    {
      attempt: fc.nat({ max: 1_000_000 }),
      claimedAt: fc.integer({ min: 0, max: 2 ** 47 }),
      recordedAt: fc.integer({ min: 0, max: 2 ** 47 }),
      outcome: fc.constantFrom(...OUTCOMES),
      error: fc.string({ unit: "grapheme", maxLength: 40 }),
    },
    { requiredKeys: ["attempt", "recordedAt", "outcome"] },
  )
  .map((entry): JobAttempt => ({ ...entry })); // plain objects, as the queue makes them

function build(list: readonly JobAttempt[]): EncodedHistory | undefined {
  let history: EncodedHistory | undefined;
  for (const entry of list) history = appendAttempt(history, entry);
  return history;
}

/** The bytes earlier releases wrote for a history held as an array (count, then each attempt). */
function arrayBytes(list: readonly JobAttempt[]): Uint8Array {
  const w = new ByteWriter();
  w.varint(list.length);
  for (const entry of list) writeAttempt(w, entry);
  return w.finish();
}

describe("encoded attempt history", () => {
  it("decodes to the attempts appended, oldest first, keeping the newest MAX_HISTORY", () => {
    fc.assert(
      fc.property(fc.array(attempt, { minLength: 1, maxLength: MAX_HISTORY + 20 }), (list) => {
        const history = build(list)!;
        assert.deepEqual(decodeHistory(history), list.slice(-MAX_HISTORY));
      }),
    );
  });

  it("is held as one char per byte, exactly the bytes a snapshot stores", () => {
    fc.assert(
      fc.property(fc.array(attempt, { minLength: 1, maxLength: 8 }), (list) => {
        const history = build(list)!;
        const w = new ByteWriter();
        writeHistory(w, history);
        const bytes = w.finish();
        assert.deepEqual(Buffer.from(bytes), Buffer.from(arrayBytes(list)));
        assert.equal(history.length, bytes.byteLength);
      }),
    );
  });

  it("is one flat string however it was appended to: no tree of pieces for the collector", async () => {
    const unflat = await unflatStringsIn(() =>
      Array.from({ length: 1_000 }, (_, i) => {
        const first = appendAttempt(undefined, {
          attempt: 1,
          claimedAt: 1_700_000_000_000 + i,
          recordedAt: 1_700_000_000_100 + i,
          outcome: "retried",
          ...(i % 2 === 0 ? { error: `failure number ${i} of a long run` } : {}),
        });
        return appendAttempt(first, {
          attempt: 2,
          claimedAt: 1_700_000_000_200 + i,
          recordedAt: 1_700_000_000_300 + i,
          outcome: "interrupted",
        });
      }),
    );
    assert.ok(unflat < 100, `${unflat} concatenated or sliced strings kept for 1 000 histories`);
  });

  it("reads back from a snapshot's bytes, leaving the reader just past them", () => {
    fc.assert(
      fc.property(fc.array(attempt, { minLength: 1, maxLength: 8 }), (list) => {
        const w = new ByteWriter();
        w.u8(7);
        w.bytes(arrayBytes(list));
        w.u8(9);
        const r = new ByteReader(w.finish());
        assert.equal(r.u8(), 7);
        r.varint(); // the length prefix `bytes` wrote
        const history = readHistory(r);
        assert.equal(r.u8(), 9);
        assert.deepEqual(decodeHistory(history), list);
        assert.equal(history, build(list));
      }),
    );
  });

  it("refuses an unknown outcome or bytes cut short, as decoding objects did", () => {
    const good = arrayBytes([{ attempt: 1, recordedAt: 5, outcome: "completed" }]);
    const unknown = Uint8Array.from(good);
    unknown[1] = OUTCOMES.length;
    assert.throws(() => readHistory(new ByteReader(unknown)), DecodeError);
    assert.throws(
      () => readHistory(new ByteReader(good.subarray(0, good.length - 1))),
      DecodeError,
    );
  });
});
