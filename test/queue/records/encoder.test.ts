import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ulid } from "ulid";
import { EncodeError } from "../../../src/queue/binary.js";
import {
  decodeRecord,
  encodeRecord,
  type QueueRecord,
  RecordEncoder,
} from "../../../src/queue/records/codec.js";
import { Tag } from "../../../src/queue/records/tags.js";

function enqueueOf(i: number, payloadBytes: number): QueueRecord {
  return {
    tag: Tag.Enqueue,
    id: ulid(1_700_000_000_000 + i),
    queue: `q${i % 3}`,
    payload: new Uint8Array(payloadBytes).fill(i & 0xff),
    headers: i % 2 === 0 ? { n: String(i) } : undefined,
    priority: i,
    maxAttempts: 3,
    enqueuedAt: 1_700_000_000_000 + i,
    runAt: undefined,
    dedupKey: undefined,
  };
}

describe("RecordEncoder", () => {
  it("hands out views that stay as encoded while later records share and outgrow its buffers", () => {
    const encoder = new RecordEncoder();
    const records: QueueRecord[] = [];
    const views: Uint8Array[] = [];
    for (let i = 0; i < 3_000; i++) {
      // Mostly small records filling shared buffers, with some bigger than a whole buffer.
      const record = enqueueOf(i, i % 500 === 7 ? 200_000 : i % 100);
      records.push(record);
      views.push(encoder.encode(record));
    }
    for (let i = 0; i < records.length; i++) {
      assert.deepEqual(views[i], encodeRecord(records[i]!), `record ${i}`);
      assert.deepEqual(decodeRecord(views[i]!).tag, Tag.Enqueue);
    }
    const shared = views.filter((v, i) => i > 0 && v.buffer === views[i - 1]!.buffer).length;
    assert.ok(shared > 2_000, `small records share buffers (${shared} of 3000 did)`);
  });

  it("keeps nothing of a record that cannot be encoded, and goes on after it", () => {
    const encoder = new RecordEncoder();
    const before = encoder.encode(enqueueOf(1, 10));
    const copy = before.slice();
    const bad = { ...enqueueOf(2, 10), priority: -1 } as QueueRecord;
    assert.throws(() => encoder.encode(bad), EncodeError);
    const next = enqueueOf(3, 10);
    const after = encoder.encode(next);
    assert.deepEqual(before, copy, "an earlier view is untouched");
    assert.deepEqual(after, encodeRecord(next));
    assert.equal(
      after.byteOffset,
      before.byteOffset + before.byteLength,
      "the failed bytes are gone",
    );
  });
});
