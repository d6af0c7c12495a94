/**
 * A transaction's run of enqueues looks a queue's state up once per run of
 * jobs to that queue, and a parent's gathered children once per run of its
 * children (`applyEnqueues`, `NewChildren`). Children of several parents
 * interleaved, in several queues, split into runs by other operations (after
 * which the children gathered so far are registered and forgotten), must give
 * the same state live, decoded as at replay, and one record at a time; and
 * removing each parent (which unlinks children whose extras are shared, and
 * children with extras of their own) must too.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { apply } from "../../src/queue/apply.js";
import { isPlainChild } from "../../src/queue/apply-child.js";
import { IdGenerator } from "../../src/queue/ids.js";
import { decodeRecord, encodeRecord, type QueueRecord } from "../../src/queue/records/codec.js";
import type { EnqueueRecord } from "../../src/queue/records/enqueue.js";
import { Tag } from "../../src/queue/records/tags.js";
import { State } from "../../src/queue/state.js";
import { seededRandom as rng } from "../../src/util/random.js";
import { auditState, stateDigest } from "../reliability/lib/audit.js";
import { enqueueRecord as job } from "./helpers.js";

const QUEUES = ["a", "b", "c"];

/**
 * A transaction of parents and their children, interleaved at random, with KV
 * puts between. `sideBySide`: the enqueues' payloads lie side by side in one
 * buffer, as a flow's do (`copyFlow`), so a run's payloads are copied into the
 * arena in one write and its plain children are applied by `enqueueChildren`; some
 * children then differ from a plain one in one field each, and some ids are
 * older than the one before.
 */
function transaction(seed: number, sideBySide = false): { ops: QueueRecord[]; parents: string[] } {
  const r = rng(seed);
  const gen = new IdGenerator(null, 1);
  const parents = Array.from({ length: 1 + Math.floor(r() * 3) }, () => gen.next(10));
  const ops: QueueRecord[] = parents.map((id) => job(id, { waitsForChildren: true }));
  const n = 5 + Math.floor(r() * 40);
  for (let k = 0; k < n; k++) {
    if (r() < 0.1) {
      ops.push({ tag: Tag.KvPut, key: `k${k}`, value: Buffer.from("v") } as QueueRecord);
      continue;
    }
    const extra: { -readonly [K in keyof EnqueueRecord]?: EnqueueRecord[K] } = {
      queue: QUEUES[Math.floor(r() * QUEUES.length)]!,
      // Runs of one parent's children, as a flow's, and switches between parents.
      flowParent: parents[r() < 0.7 ? k % parents.length : Math.floor(r() * parents.length)]!,
    };
    if (r() < 0.2) extra.headers = { n: String(k) };
    if (r() < 0.1) extra.groupKey = "g";
    if (sideBySide) {
      extra.priority = Math.floor(r() * 3);
      extra.maxAttempts = 1 + Math.floor(r() * 5);
      extra.enqueuedAt = 1 + k;
      const other = r();
      if (other < 0.05) extra.runAt = 1_000;
      else if (other < 0.1) extra.jobId = `own-${seed}-${k}`;
      else if (other < 0.15) extra.timeoutMs = 5_000;
      else if (other < 0.2)
        extra.trace = { traceId: "ab".repeat(16), spanId: "cd".repeat(8), traceFlags: 1 };
    }
    // Now and then an id older than the one before (not fresh), when side by side.
    ops.push(job(sideBySide && r() < 0.05 ? gen.next(5) : gen.next(20), extra));
  }
  // A parent waits for at least one child.
  for (const p of parents)
    if (!ops.some((op) => op.tag === Tag.Enqueue && op.flowParent === p))
      ops.push(job(gen.next(30), { flowParent: p }));
  if (sideBySide) {
    // Payloads of 0 to 5 bytes, one after the other in one buffer (an empty one ends a run).
    const lengths = ops.map(() => Math.floor(r() * 6));
    const bytes = new Uint8Array(lengths.reduce((a, b) => a + b, 0)).map((_, k) => k % 251);
    let at = 0;
    ops.forEach((op, k) => {
      const payload = bytes.subarray(at, at + lengths[k]!);
      at += lengths[k]!;
      if (op.tag === Tag.Enqueue) ops[k] = { ...op, payload };
    });
  }
  return { ops, parents };
}

/** Each enqueued job's trace context (which the digest leaves out), as hex or null. */
function traces(state: State, ops: readonly QueueRecord[]): (string | null)[] {
  return ops.flatMap((op) => {
    if (op.tag !== Tag.Enqueue) return [];
    const trace = state.table.traceOf(state.find(op.id));
    return [
      trace === null
        ? null
        : Buffer.from(trace.bytes.subarray(trace.at, trace.at + 25)).toString("hex"),
    ];
  });
}

function oneByOne(state: State, ops: readonly QueueRecord[]): void {
  for (const op of ops) apply(state, op);
}

describe("runs of a transaction's flow children", () => {
  for (const sideBySide of [false, true])
    it(`live, decoded and one record at a time agree; so do the parents' removals${sideBySide ? " (payloads side by side)" : ""}`, () =>
      agree(sideBySide));
});

function agree(sideBySide: boolean): void {
  // The side-by-side case adds its own fields to the same interleavings: fewer seeds.
  const seeds = sideBySide ? 100 : 300;
  for (let seed = 1; seed <= seeds; seed++) {
    const { ops, parents } = transaction(seed, sideBySide);
    const record = { tag: Tag.Transaction, ops } as QueueRecord;
    const live = new State();
    const decoded = new State();
    const single = new State();
    const fromLog = decodeRecord(encodeRecord(record));
    // One path per record: a child is applied by the same function live and at replay.
    const logOps = (fromLog as { ops: readonly QueueRecord[] }).ops;
    ops.forEach((op, k) => {
      if (op.tag === Tag.Enqueue)
        assert.equal(
          isPlainChild(logOps[k] as EnqueueRecord),
          isPlainChild(op),
          `seed ${seed}: op ${k} takes the live path at replay`,
        );
    });
    apply(live, record);
    apply(decoded, fromLog);
    oneByOne(single, ops);
    const digest = stateDigest(single);
    assert.equal(stateDigest(live), digest, `seed ${seed}: live`);
    assert.equal(stateDigest(decoded), digest, `seed ${seed}: decoded`);
    assert.deepEqual(traces(live, ops), traces(single, ops), `seed ${seed}: live traces`);
    assert.deepEqual(traces(decoded, ops), traces(single, ops), `seed ${seed}: decoded traces`);
    assert.deepEqual(auditState(live), [], `seed ${seed}`);
    const children = ops.filter((op) => op.tag === Tag.Enqueue && op.flowParent !== undefined);
    for (const p of parents) {
      const h = live.find(p);
      const listed = live.table.extras(h)!.flow!.children.map((c) => c.id);
      const expected = children
        .filter((op) => (op as EnqueueRecord).flowParent === p)
        .map((op) => (op as EnqueueRecord).id);
      assert.deepEqual(listed, expected, `seed ${seed}: children of ${p}`);
    }
    for (const p of parents) {
      const removal: QueueRecord = { tag: Tag.Remove, id: p };
      apply(live, removal);
      apply(decoded, decodeRecord(encodeRecord(removal)));
      apply(single, removal);
      const after = stateDigest(single);
      assert.equal(stateDigest(live), after, `seed ${seed}: removal of ${p}, live`);
      assert.equal(stateDigest(decoded), after, `seed ${seed}: removal of ${p}, decoded`);
      assert.deepEqual(auditState(live), [], `seed ${seed}: removal of ${p}`);
    }
    for (const op of children) {
      const h = live.find((op as EnqueueRecord).id);
      assert.equal(live.table.extras(h)?.flowParent, undefined, `seed ${seed}: unlinked`);
    }
  }
}
