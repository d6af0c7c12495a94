import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ulid } from "ulid";
import { apply } from "../../src/queue/apply.js";
import { decodeRecord, encodeRecord, type QueueRecord } from "../../src/queue/records/codec.js";
import { Tag } from "../../src/queue/records/tags.js";
import { decodeSnapshot, encodeSnapshot } from "../../src/queue/snapshot.js";
import { State } from "../../src/queue/state.js";
import { rows } from "../queue/state-rows.js";

const T = 1_700_000_000_000;
const ids = Array.from({ length: 4 }, (_, i) => ulid(T + i));

function enqueue(id: string, extra: Partial<QueueRecord> = {}): QueueRecord {
  return {
    tag: Tag.Enqueue,
    id,
    queue: "q",
    payload: Buffer.from(`p ${id}`),
    headers: undefined,
    priority: 1_000,
    maxAttempts: 5,
    enqueuedAt: T,
    runAt: undefined,
    dedupKey: undefined,
    ...extra,
  } as QueueRecord;
}

const RECORDS: QueueRecord[] = [
  enqueue(ids[0]!, { timeoutMs: 1_500 } as Partial<QueueRecord>),
  enqueue(ids[1]!, {
    payload: new Uint8Array(0),
    payloadRef: { key: "q/payload/X", size: 1 << 20 },
  } as Partial<QueueRecord>),
  enqueue(ids[2]!, { jobId: "caller-2", timeoutMs: 200, dedupKey: "d" } as Partial<QueueRecord>),
  enqueue(ids[3]!),
  { tag: Tag.Claim, id: ids[0]!, at: T + 1 },
  {
    tag: Tag.Retry,
    id: ids[0]!,
    runAt: undefined,
    error: "timed out",
    cause: "timed_out",
    at: T + 2,
  },
  { tag: Tag.Claim, id: ids[0]!, at: T + 3 },
  {
    tag: Tag.Ack,
    id: ids[0]!,
    keep: true,
    at: T + 4,
    result: Buffer.from("the result"),
    progress: '{"step":3}',
  },
  { tag: Tag.Claim, id: ids[1]!, at: T + 5 },
  {
    tag: Tag.Retry,
    id: ids[1]!,
    runAt: T + 100,
    error: "lease expired",
    cause: "lease_expired",
    at: T + 6,
    progress: '"half"',
  },
  { tag: Tag.Claim, id: ids[2]!, at: T + 7 },
  { tag: Tag.Dead, id: ids[2]!, at: T + 8, reason: "bad", progress: "[1,2]" },
  { tag: Tag.RequeueDead, id: ids[2]!, at: T + 9 },
  { tag: Tag.Claim, id: ids[3]!, at: T + 10 },
  {
    tag: Tag.Retry,
    id: ids[3]!,
    runAt: undefined,
    error: undefined,
    cause: "interrupted",
    at: T + 11,
  },
];

describe("records and checkpoints of results, history, timeouts and offloaded payloads", {
  timeout: 30_000,
}, () => {
  it("every new record field round-trips through the log encoding", () => {
    for (const record of RECORDS) {
      const decoded = decodeRecord(encodeRecord(record));
      const plain = (r: QueueRecord) =>
        JSON.parse(
          JSON.stringify(r, (_k, v: unknown) =>
            v instanceof Uint8Array
              ? [...v]
              : (v as { type?: string })?.type === "Buffer"
                ? (v as { data: number[] }).data
                : v,
          ),
        );
      assert.deepEqual(plain(decoded), plain(record), `tag ${record.tag}`);
    }
  });

  it("records written by earlier releases still decode (an ack byte of 0/1, a requeue without a time)", () => {
    const ack = decodeRecord(encodeRecord({ tag: Tag.Ack, id: ids[0]!, keep: true, at: T }));
    assert.deepEqual(ack, { tag: Tag.Ack, id: ids[0]!, keep: true, at: T });
    const requeue = decodeRecord(encodeRecord({ tag: Tag.RequeueDead, id: ids[0]! }));
    assert.deepEqual(requeue, { tag: Tag.RequeueDead, id: ids[0]! });
    const retry = decodeRecord(
      encodeRecord({ tag: Tag.Retry, id: ids[0]!, runAt: undefined, error: "x" }),
    );
    assert.deepEqual(retry, { tag: Tag.Retry, id: ids[0]!, runAt: undefined, error: "x" });
    const dead = decodeRecord(encodeRecord({ tag: Tag.Dead, id: ids[0]!, at: T, reason: "r" }));
    assert.deepEqual(dead, { tag: Tag.Dead, id: ids[0]!, at: T, reason: "r" });
    assert.equal(
      encodeRecord({ tag: Tag.Dead, id: ids[0]!, at: T, reason: "r" })[0],
      Tag.Dead,
      "a dead record without progress keeps its earlier encoding",
    );
  });

  it("a dead record with progress decodes inside a transaction, followed by more records", () => {
    const ops = [
      { tag: Tag.Dead, id: ids[0]!, at: T, reason: "r", progress: '{"p":1}' },
      { tag: Tag.Cancel, id: ids[1]! },
    ] as const;
    const decoded = decodeRecord(encodeRecord({ tag: Tag.Transaction, ops: [...ops] }));
    assert.deepEqual(decoded, { tag: Tag.Transaction, ops: [...ops] });
  });

  it("the enqueue flags are a varint: below 128 the bytes of a one-byte flags field, unknown flags refused", () => {
    // jobId (8) + timeoutMs (16) + payload object (32) + dedupKey (2) = 58: one byte, as before.
    const bytes = encodeRecord(RECORDS[2]!);
    const flagsAt = 1 + 16 + 1 + 1; // tag, id, queue name "q" (length + byte)
    assert.equal(bytes[flagsAt], 2 | 8 | 16);
    const refBytes = encodeRecord(RECORDS[1]!);
    assert.equal(refBytes[flagsAt], 32);
    // Flag 4096 (assigned to nothing): a two-byte varint, refused rather than misread.
    const unknown = Buffer.concat([
      bytes.subarray(0, flagsAt),
      Uint8Array.from([0x80 | 2 | 8 | 16, 4096 >> 7]),
      bytes.subarray(flagsAt + 1),
    ]);
    assert.throws(() => decodeRecord(unknown), /unknown enqueue flags/);
  });

  it("a checkpoint carries results, histories, timeouts and payload references, and replay agrees with it", () => {
    const live = new State();
    for (const record of RECORDS) apply(live, decodeRecord(encodeRecord(record)));
    const restored = decodeSnapshot(encodeSnapshot(live));
    assert.deepEqual(rows(restored), rows(live));
    const byId = new Map(rows(live).map((r) => [r.id, r]));
    assert.equal(byId.get(ids[0]!)?.result, "the result");
    assert.equal(byId.get(ids[0]!)?.timeoutMs, 1_500);
    assert.equal(byId.get(ids[0]!)?.progress, '{"step":3}');
    assert.equal(byId.get(ids[1]!)?.progress, '"half"');
    assert.deepEqual(
      byId.get(ids[0]!)?.history?.map((e) => e.outcome),
      ["timed_out", "completed"],
    );
    assert.deepEqual(byId.get(ids[1]!)?.payloadRef, { key: "q/payload/X", size: 1 << 20 });
    assert.equal(byId.get(ids[1]!)?.payload, "", "an offloaded payload is not held in memory");
    assert.deepEqual(
      byId.get(ids[2]!)?.history?.map((e) => e.outcome),
      ["dead_lettered", "requeued"],
    );
    assert.deepEqual(
      byId.get(ids[3]!)?.history?.map((e) => e.outcome),
      ["interrupted"],
    );
  });

  it("an ack with a result that is not kept does not fit the state", () => {
    const state = new State();
    apply(state, RECORDS[0]!);
    apply(state, RECORDS[4]!);
    assert.throws(
      () =>
        apply(state, { tag: Tag.Ack, id: ids[0]!, keep: false, at: T, result: Buffer.from("r") }),
      /has a result but is not kept/,
    );
    assert.equal(rows(state)[0]?.status, 2, "still claimed");
  });
});
