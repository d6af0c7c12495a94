/**
 * One record of every tag, with and without each optional field, and the
 * bytes it is stored as. The bytes are what earlier releases wrote: a change
 * to any of them breaks reading existing logs.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  decodeRecord,
  encodeRecord,
  type QueueRecord,
  RecordDecoder,
} from "../../../src/queue/records/codec.js";
import { Tag } from "../../../src/queue/records/tags.js";

const ID = "01J0000000000000000000000A";
const PARENT = "01J0000000000000000000000B";

const enqueueAll: QueueRecord = {
  tag: Tag.Enqueue,
  id: ID,
  queue: "emails",
  payload: Buffer.from('{"to":"a"}'),
  headers: { trace: "t1", "x-b": "" },
  priority: 7,
  maxAttempts: 5,
  enqueuedAt: 1_700_000_000_000,
  runAt: 1_700_000_060_000,
  dedupKey: "welcome:a",
  jobId: "user-job-1",
  timeoutMs: 30_000,
  groupKey: "tenant-9",
  payloadRef: { key: "p/01J0000000000000000000000A", size: 1_048_576 },
  flowParent: PARENT,
  waitsForChildren: true,
};

const GOLDEN: readonly (readonly [string, QueueRecord, string])[] = [
  [
    "enqueue, every field",
    enqueueAll,
    "010190000000000000000000000000000a06656d61696c73ff06070580d095ffbc31e0a499ffbc310977656c636f6d653a610205747261636502743103782d62000a757365722d6a6f622d31b0ea010874656e616e742d390a7b22746f223a2261227d1c702f30314a30303030303030303030303030303030303030303030418080400190000000000000000000000000000b",
  ],
  [
    "enqueue, no optional field",
    {
      tag: Tag.Enqueue,
      id: ID,
      queue: "q",
      payload: Buffer.from(""),
      headers: undefined,
      priority: 0,
      maxAttempts: 1,
      enqueuedAt: 0,
      runAt: undefined,
      dedupKey: undefined,
    },
    "010190000000000000000000000000000a01710000010000",
  ],
  [
    "enqueue, trace context (flag 1024: trace id, span id, flags after every other field)",
    {
      tag: Tag.Enqueue,
      id: ID,
      queue: "q",
      payload: Buffer.from(""),
      headers: undefined,
      trace: {
        traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
        spanId: "00f067aa0ba902b7",
        traceFlags: 1,
      },
      priority: 0,
      maxAttempts: 1,
      enqueuedAt: 0,
      runAt: undefined,
      dedupKey: undefined,
    },
    "010190000000000000000000000000000a01718008000100004bf92f3577b34da6a3ce929d0e0e473600f067aa0ba902b701",
  ],
  [
    "claim",
    { tag: Tag.Claim, id: ID, at: 1_700_000_000_123 },
    "020190000000000000000000000000000afbd095ffbc31",
  ],
  [
    "ack, deleted",
    { tag: Tag.Ack, id: ID, keep: false, at: 0 },
    "030190000000000000000000000000000a00",
  ],
  [
    "ack, kept with result and progress",
    {
      tag: Tag.Ack,
      id: ID,
      keep: true,
      at: 1_700_000_000_500,
      result: Buffer.from("ok"),
      progress: '{"pct":100}',
    },
    "030190000000000000000000000000000a07f4d395ffbc31026f6b0b7b22706374223a3130307d",
  ],
  [
    "retry, bare",
    { tag: Tag.Retry, id: ID, runAt: undefined, error: undefined },
    "040190000000000000000000000000000a00",
  ],
  [
    "retry, every field",
    {
      tag: Tag.Retry,
      id: ID,
      runAt: 1_700_000_001_000,
      error: "boom",
      cause: "timed_out",
      at: 1_700_000_000_900,
      progress: "3",
    },
    "040190000000000000000000000000000a1fe8d795ffbc3104626f6f6d0284d795ffbc310133",
  ],
  [
    "retry, lease expired",
    { tag: Tag.Retry, id: ID, runAt: undefined, error: "lease", cause: "lease_expired", at: 9 },
    "040190000000000000000000000000000a0e056c656173650009",
  ],
  [
    "dead",
    { tag: Tag.Dead, id: ID, at: 1_700_000_002_000, reason: "gave up" },
    "050190000000000000000000000000000ad0df95ffbc310767617665207570",
  ],
  [
    "dead with progress",
    { tag: Tag.Dead, id: ID, at: 1_700_000_002_000, reason: "gave up", progress: "{}" },
    "130190000000000000000000000000000ad0df95ffbc310767617665207570027b7d",
  ],
  [
    "dead, its lease expired",
    {
      tag: Tag.Dead,
      id: ID,
      at: 1_700_000_002_000,
      reason: "lease expired",
      cause: "lease_expired",
    },
    "230190000000000000000000000000000ad0df95ffbc310d6c6561736520657870697265640000",
  ],
  [
    "dead, timed out, with progress",
    {
      tag: Tag.Dead,
      id: ID,
      at: 1_700_000_002_000,
      reason: "timed out after 50 ms",
      cause: "timed_out",
      progress: "{}",
    },
    "230190000000000000000000000000000ad0df95ffbc311574696d6564206f7574206166746572203530206d730102027b7d",
  ],
  ["promote", { tag: Tag.Promote, upTo: 1_700_000_000_000 }, "0680d095ffbc31"],
  [
    "promote some",
    { tag: Tag.PromoteSome, queue: "q", upTo: 1_700_000_000_000, limit: 2_048 },
    "0d017180d095ffbc318010",
  ],
  ["cancel", { tag: Tag.Cancel, id: ID }, "070190000000000000000000000000000a"],
  [
    "cancel, at (under CancelAt: leaves a tombstone)",
    { tag: Tag.Cancel, id: ID, at: 1_700_000_004_000 },
    "240190000000000000000000000000000aa0ef95ffbc31",
  ],
  [
    "cancel, at and the ended attempt's error (under CancelWithError)",
    { tag: Tag.Cancel, id: ID, at: 1_700_000_004_000, error: "boom" },
    "270190000000000000000000000000000aa0ef95ffbc3104626f6f6d",
  ],
  ["cancel request", { tag: Tag.CancelRequest, id: ID }, "080190000000000000000000000000000a"],
  ["requeue dead", { tag: Tag.RequeueDead, id: ID }, "090190000000000000000000000000000a"],
  [
    "requeue dead, at",
    { tag: Tag.RequeueDead, id: ID, at: 1_700_000_003_000 },
    "090190000000000000000000000000000ab8e795ffbc31",
  ],
  [
    "sweep done",
    { tag: Tag.SweepDone, queue: "q", before: 1_600_000_000_000 },
    "0a01718080babbc82e",
  ],
  [
    "sweep dead",
    { tag: Tag.SweepDead, queue: "q", before: 1_600_000_000_000 },
    "0b01718080babbc82e",
  ],
  ["release", { tag: Tag.Release, id: ID }, "0c0190000000000000000000000000000a"],
  [
    "sweep done some",
    { tag: Tag.SweepDoneSome, queue: "q", before: 1_600_000_000_000, limit: 100 },
    "0e01718080babbc82e64",
  ],
  [
    "sweep dead some",
    { tag: Tag.SweepDeadSome, queue: "q", before: 1_600_000_000_000, limit: 100 },
    "0f01718080babbc82e64",
  ],
  [
    "sweep done without a result, some",
    { tag: Tag.SweepDoneNoResultSome, queue: "q", before: 1_600_000_000_000, limit: 100 },
    "2601718080babbc82e64",
  ],
  [
    "sweep cancelled some",
    { tag: Tag.SweepCancelledSome, queue: "q", before: 1_600_000_000_000, limit: 100 },
    "2501718080babbc82e64",
  ],
  ["wake", { tag: Tag.Wake, id: ID }, "100190000000000000000000000000000a"],
  ["pause", { tag: Tag.PauseQueue, queue: "q", paused: true }, "11017101"],
  ["resume", { tag: Tag.PauseQueue, queue: "q", paused: false }, "11017100"],
  ["remove", { tag: Tag.Remove, id: ID }, "120190000000000000000000000000000a"],
  [
    "remove, at",
    { tag: Tag.Remove, id: ID, at: 1_700_000_003_000 },
    "120190000000000000000000000000000ab8e795ffbc31",
  ],
  [
    "schedule set, cron",
    {
      tag: Tag.ScheduleSet,
      schedule: {
        name: "nightly",
        cron: "0 3 * * *",
        everyMs: undefined,
        timezone: "Europe/Paris",
        queue: "reports",
        payload: Buffer.from("{}"),
        options: JSON.stringify({ priority: 5 }),
        startAt: 1_000,
        endAt: 9_000_000_000_000,
        catchUp: "all",
        setAt: 1_700_000_000_000,
      },
    },
    "1c076e696768746c790f09302033202a202a202a0c4575726f70652f5061726973077265706f727473027b7d0e7b227072696f72697479223a357de80780a0b6cef785020280d095ffbc31",
  ],
  [
    "schedule set, every",
    {
      tag: Tag.ScheduleSet,
      schedule: {
        name: "tick",
        cron: undefined,
        everyMs: 60_000,
        timezone: "UTC",
        queue: "q",
        payload: Buffer.from(""),
        options: undefined,
        startAt: undefined,
        endAt: undefined,
        catchUp: "none",
        setAt: 5,
      },
    },
    "1c047469636b00e0d403035554430171000005",
  ],
  ["unschedule", { tag: Tag.Unschedule, name: "nightly" }, "1d076e696768746c79"],
  [
    "schedule fire, skipped",
    { tag: Tag.ScheduleFire, name: "nightly", fireAt: 10, job: undefined },
    "1e076e696768746c790a00",
  ],
  [
    "schedule fire, with job",
    {
      tag: Tag.ScheduleFire,
      name: "nightly",
      fireAt: 1_700_000_100_000,
      job: {
        tag: Tag.Enqueue,
        id: ID,
        queue: "reports",
        payload: Buffer.from("{}"),
        headers: undefined,
        priority: 5,
        maxAttempts: 3,
        enqueuedAt: 1_700_000_100_000,
        runAt: undefined,
        dedupKey: "schedule:nightly:1700000100000",
      },
    },
    "1e076e696768746c79a0dd9bffbc3101010190000000000000000000000000000a077265706f727473020503a0dd9bffbc311e7363686564756c653a6e696768746c793a31373030303030313030303030027b7d",
  ],
  [
    "replace, every field",
    { tag: Tag.Replace, id: ID, payload: Buffer.from("new"), headers: { a: "b" }, runAt: 5 },
    "1f0190000000000000000000000000000a03050101610162036e6577",
  ],
  [
    "replace, offloaded",
    {
      tag: Tag.Replace,
      id: ID,
      payload: Buffer.from(""),
      headers: { a: "b" },
      runAt: 5,
      payloadRef: { key: "p/01J0000000000000000000000A", size: 1_048_576 },
    },
    "1f0190000000000000000000000000000a07050101610162001c702f30314a3030303030303030303030303030303030303030303041808040",
  ],
  [
    "replace, bare",
    { tag: Tag.Replace, id: ID, payload: Buffer.from(""), headers: undefined, runAt: undefined },
    "1f0190000000000000000000000000000a0000",
  ],
  [
    "kv put",
    { tag: Tag.KvPut, key: "cursor", value: Buffer.from([0, 1, 2, 255]) },
    "1506637572736f7204000102ff",
  ],
  ["kv delete", { tag: Tag.KvDelete, key: "cursor" }, "1606637572736f72"],
  [
    "transaction, cancel at",
    {
      tag: Tag.Transaction,
      ops: [
        { tag: Tag.Cancel, id: ID, at: 9 },
        { tag: Tag.CancelRequest, id: ID },
      ],
    },
    "1702240190000000000000000000000000000a09080190000000000000000000000000000a",
  ],
  [
    "transaction",
    {
      tag: Tag.Transaction,
      ops: [
        { tag: Tag.Ack, id: ID, keep: true, at: 7, result: Buffer.from("r") },
        { ...enqueueAll, tag: Tag.Enqueue, id: PARENT, flowParent: undefined },
        { tag: Tag.Retry, id: ID, runAt: 8, error: "e", cause: "interrupted", at: 8 },
        { tag: Tag.Dead, id: ID, at: 9, reason: "x", progress: "1" },
        { tag: Tag.Cancel, id: ID },
        { tag: Tag.CancelRequest, id: ID },
        { tag: Tag.KvPut, key: "k", value: Buffer.from("v") },
        { tag: Tag.KvDelete, key: "k" },
      ],
    },
    "1708030190000000000000000000000000000a03070172010190000000000000000000000000000b06656d61696c73ff04070580d095ffbc31e0a499ffbc310977656c636f6d653a610205747261636502743103782d62000a757365722d6a6f622d31b0ea010874656e616e742d390a7b22746f223a2261227d1c702f30314a3030303030303030303030303030303030303030303041808040040190000000000000000000000000000a0f0801650108130190000000000000000000000000000a0901780131070190000000000000000000000000000a080190000000000000000000000000000a15016b017616016b",
  ],
];

describe("record wire format", () => {
  it("every record encodes to the bytes earlier releases wrote", () => {
    for (const [name, record, hex] of GOLDEN) {
      assert.equal(Buffer.from(encodeRecord(record)).toString("hex"), hex, name);
    }
  });

  it("the stored bytes decode to the record, and encode back to the same bytes", () => {
    for (const [name, record, hex] of GOLDEN) {
      const decoded = decodeRecord(Buffer.from(hex, "hex"));
      assert.deepEqual(
        JSON.parse(JSON.stringify(decoded)),
        JSON.parse(JSON.stringify(record)),
        name,
      );
      assert.equal(Buffer.from(encodeRecord(decoded)).toString("hex"), hex, name);
    }
  });

  it("replay decodes each record where it lies in a batch (after other records) to the same record", () => {
    // The log hands replay whole batches and offsets into them; enqueues keep views of the batch.
    const bodies = GOLDEN.map(([, , hex]) => Buffer.from(hex, "hex"));
    const batch = Buffer.concat([Buffer.from([0xee, 0xee, 0xee]), ...bodies, Buffer.from([0xee])]);
    const decoder = new RecordDecoder();
    let at = 3;
    for (let i = 0; i < GOLDEN.length; i++) {
      const [name, , hex] = GOLDEN[i]!;
      const decoded = decoder.decode(batch, at, at + bodies[i]!.byteLength);
      at += bodies[i]!.byteLength;
      assert.equal(Buffer.from(encodeRecord(decoded)).toString("hex"), hex, name);
      assert.deepEqual(
        JSON.parse(JSON.stringify(decoded)),
        JSON.parse(JSON.stringify(decodeRecord(Buffer.from(hex, "hex")))),
        name,
      );
    }
  });

  it("the cases cover every tag (a new tag needs its case here), and no tag is renumbered", () => {
    const written = new Set(GOLDEN.map(([, , hex]) => Number.parseInt(hex.slice(0, 2), 16)));
    for (const [name, value] of Object.entries(Tag)) assert.ok(written.has(value), name);
    // Numbers are never reused: later tags may be added, these stay as they are.
    const stored: Record<string, number> = {
      Enqueue: 1,
      Claim: 2,
      Ack: 3,
      Retry: 4,
      Dead: 5,
      Promote: 6,
      Cancel: 7,
      CancelRequest: 8,
      RequeueDead: 9,
      SweepDone: 10,
      SweepDead: 11,
      Release: 12,
      PromoteSome: 13,
      SweepDoneSome: 14,
      SweepDeadSome: 15,
      Wake: 16,
      PauseQueue: 17,
      Remove: 18,
      DeadWithProgress: 19,
      DeadWithCause: 35,
      CancelAt: 36,
      SweepCancelledSome: 37,
      SweepDoneNoResultSome: 38,
      CancelWithError: 39,
      ScheduleSet: 28,
      Unschedule: 29,
      ScheduleFire: 30,
      Replace: 31,
      KvPut: 21,
      KvDelete: 22,
      Transaction: 23,
    };
    for (const [name, value] of Object.entries(stored)) {
      assert.equal((Tag as Record<string, number>)[name], value, name);
    }
  });
});

describe("decoded records own their bytes", () => {
  it("a KV value decoded from a Buffer is a copy, not a view that pins the log batch", () => {
    const encoded = encodeRecord({ tag: Tag.KvPut, key: "k", value: Buffer.from("value") });
    const batch = Buffer.concat([Buffer.alloc(64), Buffer.from(encoded)]).subarray(64);
    const decoded = decodeRecord(batch);
    assert.ok(decoded.tag === Tag.KvPut);
    assert.equal(Buffer.from(decoded.value).toString(), "value");
    assert.notEqual(decoded.value.buffer, batch.buffer, "its own memory");
    batch.fill(0);
    assert.equal(Buffer.from(decoded.value).toString(), "value");
  });

  it("a KV value in a transaction decoded from a Buffer is a copy, not a view that pins the log batch", () => {
    const encoded = encodeRecord({
      tag: Tag.Transaction,
      ops: [
        { tag: Tag.KvDelete, key: "gone" },
        { tag: Tag.KvPut, key: "k", value: Buffer.from("value") },
      ],
    });
    const batch = Buffer.concat([Buffer.alloc(64), Buffer.from(encoded)]).subarray(64);
    const decoded = decodeRecord(batch);
    assert.ok(decoded.tag === Tag.Transaction);
    const put = decoded.ops[1]!;
    assert.ok(put.tag === Tag.KvPut);
    assert.equal(Buffer.from(put.value).toString(), "value");
    assert.notEqual(put.value.buffer, batch.buffer, "its own memory");
    batch.fill(0);
    assert.equal(Buffer.from(put.value).toString(), "value", "unchanged by the batch's reuse");
  });
});
