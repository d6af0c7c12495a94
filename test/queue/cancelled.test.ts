import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { apply } from "../../src/queue/apply.js";
import { ByteWriter } from "../../src/queue/binary.js";
import { CancelledJobs, decodeTombstone, encodeTombstone } from "../../src/queue/cancelled.js";
import { QueueConfigs } from "../../src/queue/config.js";
import { decideCancelledSweeps, decideNack, decideRelease } from "../../src/queue/decisions.js";
import { appendAttempt } from "../../src/queue/history.js";
import { DEFAULT_QUEUE_CONFIG } from "../../src/queue/options.js";
import { Tag } from "../../src/queue/records/tags.js";
import { decodeSnapshot, encodeSnapshot } from "../../src/queue/snapshot.js";
import { SnapshotWriter } from "../../src/queue/snapshot-encoder.js";
import { State } from "../../src/queue/state.js";
import { MAX_TIMESTAMP_MS } from "../../src/queue/validate.js";
import { attemptHistoryOf, completionOfJob } from "../../src/queue/views.js";
import { SliceBudget } from "../../src/util/slices.js";
import { unflatStringsIn } from "../heap-strings.js";
import { auditState, stateDigest } from "../reliability/lib/audit.js";
import { enqueuer, NOW } from "./state-jobs.js";

const enqueue = enqueuer({ payload: Buffer.from("payload") });

const HISTORY = appendAttempt(undefined, { attempt: 0, recordedAt: 5, outcome: "requeued" });

describe("tombstones of cancelled jobs", () => {
  it("encode the id, queue, time and history, and sort by time first", () => {
    for (const at of [0, 1, 255, 2 ** 32 - 1, 2 ** 32, NOW, MAX_TIMESTAMP_MS]) {
      for (const id of ["01J0000000000000000000000A", "", "ünï©ødé ✓ id"]) {
        const entry = encodeTombstone(id, 7, at, HISTORY);
        assert.deepEqual(decodeTombstone(entry), {
          id,
          queue: 7,
          at,
          history: [{ attempt: 0, recordedAt: 5, outcome: "requeued" }],
        });
      }
    }
    const times = [MAX_TIMESTAMP_MS, 0, NOW, 2 ** 32, 255, 256, 2 ** 32 - 1];
    const sorted = times.map((at) => encodeTombstone("z", 0, at, HISTORY)).sort();
    assert.deepEqual(
      sorted.map((entry) => decodeTombstone(entry).at),
      [...times].sort((a, b) => a - b),
    );
  });

  it("are each one flat string: no tree of pieces for the collector", async () => {
    const unflat = await unflatStringsIn(() =>
      Array.from({ length: 1_000 }, (_, i) =>
        encodeTombstone(`01J00000000000000000${String(i).padStart(6, "0")}`, 3, NOW + i, HISTORY),
      ),
    );
    assert.ok(unflat < 100, `${unflat} concatenated or sliced strings kept for 1 000 tombstones`);
  });

  it("are exactly the bytes a checkpoint stores, whatever the id, queue index and time", () => {
    const ids = [
      "01J0000000000000000000000A",
      "",
      "ünï©ødé ✓ id",
      "x".repeat(127),
      "y".repeat(200),
    ];
    for (const at of [0, 255, 2 ** 32 - 1, 2 ** 32, NOW, MAX_TIMESTAMP_MS])
      for (const id of ids)
        for (const queue of [0, 127, 128, 70_000]) {
          const w = new ByteWriter();
          const time = Buffer.alloc(8);
          time.writeBigUInt64BE(BigInt(at));
          w.latin1(time.toString("latin1"));
          w.varint(queue);
          w.string(id);
          w.latin1(HISTORY);
          assert.equal(
            encodeTombstone(id, queue, at, HISTORY),
            Buffer.from(w.finish()).toString("latin1"),
          );
        }
  });

  it("are found by id, swept per queue oldest first whatever order they came in, and forgotten by id", () => {
    const jobs = new CancelledJobs();
    jobs.add("a", 0, NOW + 30, HISTORY);
    jobs.add("b", 0, NOW + 10, HISTORY);
    jobs.add("c", 1, NOW, HISTORY);
    jobs.add("d", 0, NOW + 20, HISTORY);
    assert.equal(jobs.size, 4);
    assert.equal(jobs.oldestAt(0), NOW + 10);
    assert.equal(jobs.oldestAt(1), NOW);
    assert.equal(jobs.oldestAt(2), undefined);
    jobs.sweep(0, NOW + 30, 1);
    assert.deepEqual([jobs.has("b"), jobs.has("d"), jobs.has("a")], [false, true, true]);
    jobs.sweep(0, NOW + 30, 10);
    assert.deepEqual([jobs.has("d"), jobs.has("a"), jobs.has("c")], [false, true, true]);
    assert.equal(jobs.delete("a"), true);
    assert.equal(jobs.delete("a"), false);
    assert.equal(jobs.oldestAt(0), undefined);
    assert.equal(jobs.get("c")?.at, NOW);
    assert.deepEqual(
      [...jobs.freeze().entries()].map((e) => decodeTombstone(e).id),
      ["c"],
    );
  });

  it("a frozen view keeps what was there at the freeze", () => {
    const jobs = new CancelledJobs();
    for (let i = 0; i < 500; i++) jobs.add(`j${i}`, i % 3, NOW + i, HISTORY);
    const view = jobs.freeze();
    const before = [...view.entries()];
    for (let i = 0; i < 500; i += 2) jobs.delete(`j${i}`);
    for (let i = 500; i < 700; i++) jobs.add(`j${i}`, i % 3, NOW - i, HISTORY);
    jobs.sweep(1, NOW + 1_000, 1_000);
    assert.equal(view.size, 500);
    assert.deepEqual([...view.entries()], before);
    assert.equal(
      before.reduce((sum, e) => sum + e.length + (e.length < 128 ? 1 : 2), 0),
      view.encodedBytes,
    );
  });
});

describe("apply of cancels", () => {
  it("a cancel with its time leaves a tombstone whose history ends with it; the job itself is gone", () => {
    const state = new State();
    const pending = enqueue(state, { jobId: "mine" });
    const claimed = enqueue(state);
    apply(state, { tag: Tag.Claim, id: claimed, at: NOW + 1 });
    apply(state, { tag: Tag.Cancel, id: pending, at: NOW + 2 });
    apply(state, { tag: Tag.CancelRequest, id: claimed });
    const h = state.find(claimed);
    const record = decideNack(state, h, DEFAULT_QUEUE_CONFIG, NOW + 3, "stopped");
    assert.deepEqual(record, { tag: Tag.Cancel, id: claimed, at: NOW + 3, error: "stopped" });
    apply(state, record);
    assert.equal(state.size, 0);
    assert.equal(state.findPublic("mine"), -1);
    assert.deepEqual(attemptHistoryOf(state, "mine"), [
      { attempt: 0, recordedAt: NOW + 2, outcome: "cancelled" },
    ]);
    assert.deepEqual(attemptHistoryOf(state, pending), [], "named by its caller id only");
    assert.deepEqual(attemptHistoryOf(state, claimed), [
      {
        attempt: 1,
        claimedAt: NOW + 1,
        recordedAt: NOW + 3,
        error: "stopped",
        outcome: "cancelled",
      },
    ]);
    assert.deepEqual(completionOfJob(state, claimed), { status: "cancelled" });
    assert.deepEqual(state.cancelled.get("mine")?.queue, state.queues.get("q")!.index);
    assert.deepEqual(auditState(state), []);
  });

  it("a claim given back with its cancel requested is cancelled at the release's time", () => {
    const state = new State();
    const id = enqueue(state);
    apply(state, { tag: Tag.Claim, id, at: NOW });
    apply(state, { tag: Tag.CancelRequest, id });
    const record = decideRelease(state, state.find(id), NOW + 9);
    assert.deepEqual(record, { tag: Tag.Cancel, id, at: NOW + 9 });
    apply(state, record);
    assert.deepEqual(attemptHistoryOf(state, id), [
      { attempt: 1, claimedAt: NOW, recordedAt: NOW + 9, outcome: "cancelled" },
    ]);
  });

  it("a cancel written by an earlier release (no time) removes the job and leaves no tombstone", () => {
    const state = new State();
    const id = enqueue(state);
    apply(state, { tag: Tag.Cancel, id });
    assert.equal(state.cancelled.size, 0);
    assert.equal(completionOfJob(state, id), undefined);
  });

  it("removeJobs' Remove leaves no tombstone; an enqueue reusing a cancelled jobId drops it", () => {
    const state = new State();
    const removed = enqueue(state);
    apply(state, { tag: Tag.Remove, id: removed });
    assert.equal(state.cancelled.size, 0);
    const first = enqueue(state, { jobId: "again" });
    apply(state, { tag: Tag.Cancel, id: first, at: NOW });
    assert.equal(state.cancelled.has("again"), true);
    const second = enqueue(state, { jobId: "again" });
    assert.equal(state.cancelled.size, 0);
    assert.equal(state.findPublic("again"), state.find(second));
    assert.equal(completionOfJob(state, "again"), undefined, "the new job has not ended");
  });

  it("a transaction's cancels each leave a tombstone", () => {
    const state = new State();
    const a = enqueue(state);
    const b = enqueue(state, { jobId: "b" });
    apply(state, {
      tag: Tag.Transaction,
      ops: [
        { tag: Tag.Cancel, id: a, at: NOW + 1 },
        { tag: Tag.Cancel, id: b, at: NOW + 1 },
      ],
    });
    assert.deepEqual([state.cancelled.has(a), state.cancelled.has("b")], [true, true]);
  });
});

describe("sweeps of tombstones", () => {
  it("are decided per queue once the oldest is past resultRetentionMs, and drop at most the limit", () => {
    const state = new State();
    const configs = new QueueConfigs(
      { resultRetentionMs: 1_000 },
      { slow: { resultRetentionMs: 60_000 } },
    );
    for (let i = 0; i < 5; i++) {
      apply(state, { tag: Tag.Cancel, id: enqueue(state), at: NOW + i });
      apply(state, { tag: Tag.Cancel, id: enqueue(state, { queue: "slow" }), at: NOW + i });
    }
    assert.deepEqual(decideCancelledSweeps(state, configs, NOW + 1_000), []);
    const records = decideCancelledSweeps(state, configs, NOW + 1_003, 2);
    assert.deepEqual(records, [
      { tag: Tag.SweepCancelledSome, queue: "q", before: NOW + 3, limit: 2 },
    ]);
    apply(state, records[0]!);
    assert.equal(state.cancelled.size, 8);
    apply(state, decideCancelledSweeps(state, configs, NOW + 1_003)[0]!);
    assert.equal(state.cancelled.size, 7, "only those cancelled before the cut-off");
    assert.deepEqual(decideCancelledSweeps(state, configs, NOW + 1_003), []);
    assert.equal(decideCancelledSweeps(state, configs, NOW + 60_005).length, 2);
  });
});

describe("tombstones in checkpoints", () => {
  it("come back from a snapshot, with the same expiry order", () => {
    const state = new State();
    for (let i = 0; i < 300; i++) {
      const id = enqueue(state, {
        queue: ["a", "b"][i % 2]!,
        ...(i % 3 ? {} : { jobId: `j${i}` }),
      });
      if (i % 4 === 0) apply(state, { tag: Tag.Claim, id, at: NOW });
      apply(state, { tag: Tag.Cancel, id, at: NOW + ((i * 7919) % 1_000) });
    }
    const restored = decodeSnapshot(encodeSnapshot(state));
    assert.equal(restored.cancelled.size, 300);
    assert.equal(stateDigest(restored), stateDigest(state));
    assert.equal(restored.cancelled.get("j3")?.history.at(-1)?.outcome, "cancelled");
  });

  it("are copied at the cut: changes while the snapshot is encoded in slices do not tear it", () => {
    const state = new State();
    const ids: string[] = [];
    for (let i = 0; i < 3_000; i++) {
      const id = enqueue(state, { jobId: `j${i}` });
      apply(state, { tag: Tag.Cancel, id, at: NOW + i });
      ids.push(id);
    }
    const frozen = stateDigest(state);
    const writer = new SnapshotWriter(state, 0, new SliceBudget(0));
    let bytes: Uint8Array | null = null;
    let i = 3_000;
    while (bytes === null) {
      bytes = writer.step();
      // Reuse ids, sweep, and cancel more while the view is encoded.
      enqueue(state, { jobId: `j${i - 3_000}` });
      apply(state, { tag: Tag.Cancel, id: enqueue(state, { jobId: `j${i}` }), at: NOW - i });
      apply(state, { tag: Tag.SweepCancelledSome, queue: "q", before: NOW + i, limit: 3 });
      i++;
    }
    assert.ok(i > 3_010, `${i - 3_000} slices`);
    assert.equal(stateDigest(decodeSnapshot(bytes)), frozen);
  });

  it("a snapshot holding one id's tombstone twice is refused", () => {
    const state = new State();
    apply(state, { tag: Tag.Cancel, id: enqueue(state, { jobId: "x" }), at: NOW });
    const bytes = Buffer.from(encodeSnapshot(state));
    // The section is the last thing in the snapshot: count 1 → 2, the entry written twice.
    const [entry] = [...state.cancelled.freeze().entries()];
    const tail = Buffer.concat([Buffer.from([entry!.length]), Buffer.from(entry!, "latin1")]);
    const body = Buffer.concat([Buffer.from([2]), tail, tail]);
    const start = bytes.length - (3 + tail.length);
    assert.equal(bytes[start], 36, "the section's kind");
    const damaged = Buffer.concat([bytes.subarray(0, start), Buffer.from([36, body.length]), body]);
    assert.throws(() => decodeSnapshot(damaged), /tombstone of job "x" twice/);
  });
});
