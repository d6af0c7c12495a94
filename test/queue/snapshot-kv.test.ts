import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { apply } from "../../src/queue/apply.js";
import { DecodeError } from "../../src/queue/binary.js";
import { IdGenerator } from "../../src/queue/ids.js";
import { Tag } from "../../src/queue/records/tags.js";
import { decodeSnapshot, encodeSnapshot } from "../../src/queue/snapshot.js";
import { SnapshotReader } from "../../src/queue/snapshot-decoder.js";
import { SnapshotWriter } from "../../src/queue/snapshot-encoder.js";
import { KV_ENTRIES_PER_CHECK } from "../../src/queue/snapshot-kv.js";
import { State } from "../../src/queue/state.js";
import { SliceBudget } from "../../src/util/slices.js";
import { stateDigest } from "../reliability/lib/audit.js";

const NOW = 1_700_000_000_000;
const oneUnit = () => new SliceBudget(0);

function kvState(keys: number, jobs = 10): State {
  const state = new State();
  const gen = new IdGenerator(null, 1);
  for (let i = 0; i < jobs; i++)
    apply(state, {
      tag: Tag.Enqueue,
      id: gen.next(NOW + i),
      queue: "q",
      payload: Buffer.from(`job ${i}`),
      headers: undefined,
      priority: 0,
      maxAttempts: 1,
      enqueuedAt: NOW,
      runAt: undefined,
      dedupKey: undefined,
    });
  for (let i = 0; i < keys; i++)
    apply(state, {
      tag: Tag.KvPut,
      key: `key/${(i * 7919) % keys}/é`,
      value: Buffer.from(`value ${i}`.repeat(1 + (i % 3))),
    });
  return state;
}

describe("snapshots of the KV namespace", { timeout: 120_000 }, () => {
  it("round-trip in slices; the section is the KV as of the snapshot's start", () => {
    const state = kvState(20_000);
    const frozen = stateDigest(state);
    const encoder = new SnapshotWriter(state, 26, oneUnit());
    let bytes: Uint8Array | null = null;
    let steps = 0;
    for (let i = 0; bytes === null; i++) {
      bytes = encoder.step();
      steps++;
      // The live map moves on between slices: overwrites, deletes, new keys.
      apply(state, { tag: Tag.KvPut, key: `key/${i}/é`, value: Buffer.from("changed") });
      apply(state, { tag: Tag.KvDelete, key: `key/${i + 1}/é` });
      apply(state, { tag: Tag.KvPut, key: `new/${i}`, value: Buffer.from("new") });
    }
    assert.ok(steps > 10, `${steps} slices`);
    const reader = new SnapshotReader(bytes.subarray(26), oneUnit());
    let restored: State | null = null;
    let decodeSteps = 0;
    while (restored === null) {
      restored = reader.step();
      decodeSteps++;
    }
    assert.ok(decodeSteps > 10, `${decodeSteps} slices`);
    assert.equal(stateDigest(restored), frozen);
    assert.equal(restored.kv.size, 20_000);
    assert.equal(restored.kv.encodedBytes, kvState(20_000).kv.encodedBytes);
  });

  it("a state without KV writes no section (the bytes earlier releases wrote); KV-only states round-trip", () => {
    const state = kvState(0);
    const bytes = encodeSnapshot(state);
    apply(state, { tag: Tag.KvPut, key: "k", value: Buffer.from("v") });
    assert.equal(encodeSnapshot(state).byteLength > bytes.byteLength, true);
    apply(state, { tag: Tag.KvDelete, key: "k" });
    assert.deepEqual(encodeSnapshot(state), bytes);
    const only = kvState(5, 0);
    assert.equal(stateDigest(decodeSnapshot(encodeSnapshot(only))), stateDigest(only));
  });

  it("damaged sections are refused with DecodeError", () => {
    const bytes = encodeSnapshot(kvState(100));
    const plainEnd = encodeSnapshot(kvState(0)).byteLength;
    const damaged = (change: (copy: Uint8Array) => Uint8Array | undefined) => {
      const copy = bytes.slice();
      return change(copy) ?? copy;
    };
    const cases: [Uint8Array, RegExp][] = [
      [
        damaged((c) => {
          c[plainEnd] = 9;
          return undefined;
        }),
        /unknown section 9/,
      ],
      [damaged((c) => c.subarray(0, c.byteLength - 1)), /truncated|past|outside|bytes/],
      [
        damaged((c) => {
          const longer = new Uint8Array(c.byteLength + 3);
          longer.set(c);
          return longer;
        }),
        /unknown section 0|truncated|past/,
      ],
    ];
    for (const [input, message] of cases)
      assert.throws(
        () => decodeSnapshot(input),
        (error: unknown) => error instanceof DecodeError && message.test(error.message),
        String(message),
      );
    const twice = new Uint8Array(bytes.byteLength + (bytes.byteLength - plainEnd));
    twice.set(bytes);
    twice.set(bytes.subarray(plainEnd), bytes.byteLength);
    assert.throws(() => decodeSnapshot(twice), /section 21 twice/);
  });

  it("each slice handles a bounded number of bytes, however few the entries", () => {
    /** Encode and decode steps of a state holding only `keys` KV entries of `bytes` each. */
    const steps = (keys: number, bytes: number): { encode: number; decode: number } => {
      const state = new State();
      for (let i = 0; i < keys; i++)
        apply(state, { tag: Tag.KvPut, key: `k${i}`, value: new Uint8Array(bytes).fill(i) });
      const encoder = new SnapshotWriter(state, 0, oneUnit());
      let encoded: Uint8Array | null = null;
      let encode = 0;
      for (; encoded === null; encode++) encoded = encoder.step();
      const reader = new SnapshotReader(encoded, oneUnit());
      let restored: State | null = null;
      let decode = 0;
      for (; restored === null; decode++) restored = reader.step();
      assert.ok(Buffer.from(restored.kv.get("k7")!).equals(Buffer.alloc(bytes, 7)));
      return { encode, decode };
    };
    const small = steps(64, 1);
    const large = steps(64, 100_000);
    // 64 entries fit one budget check by count; at 100 kB each, every entry needs its own.
    assert.ok(large.encode >= small.encode + 60, `${large.encode} vs ${small.encode} encode steps`);
    assert.ok(large.decode >= small.decode + 60, `${large.decode} vs ${small.decode} decode steps`);
  });

  it("each slice handles a bounded number of entries, however large the map", () => {
    const state = kvState(50_000, 0);
    // A zero budget: every step stops at its first budget check.
    const encoder = new SnapshotWriter(state, 0, oneUnit());
    let bytes: Uint8Array | null = null;
    let steps = 0;
    while (bytes === null) {
      bytes = encoder.step();
      steps++;
    }
    assert.ok(steps >= 50_000 / KV_ENTRIES_PER_CHECK, `${steps} encode slices`);
    const reader = new SnapshotReader(bytes, oneUnit());
    let restored: State | null = null;
    let decodeSteps = 0;
    while (restored === null) {
      restored = reader.step();
      decodeSteps++;
    }
    assert.ok(decodeSteps >= 50_000 / KV_ENTRIES_PER_CHECK, `${decodeSteps} decode slices`);
    assert.equal(restored.kv.size, 50_000);
  });
});
