import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { apply } from "../../src/queue/apply.js";
import { decodeHistory } from "../../src/queue/history.js";
import type { QueueRecord } from "../../src/queue/records/codec.js";
import { Tag } from "../../src/queue/records/tags.js";
import { decodeSnapshot } from "../../src/queue/snapshot.js";
import { SnapshotWriter } from "../../src/queue/snapshot-encoder.js";
import { State } from "../../src/queue/state.js";
import { SliceBudget } from "../../src/util/slices.js";
import { stateDigest } from "../reliability/lib/audit.js";
import { enqueuer, NOW } from "./state-jobs.js";

/**
 * Jobs that end an attempt alike share one history extras object (a cache
 * of the last one made). Sharing must never change content: each job keeps
 * its own history, and a state restored from a checkpoint (whose cache
 * starts empty) plus the tail is the live state.
 */
describe("shared history extras", () => {
  it("claim batches that end differently, interleaved, each keep their own history, live and restored", () => {
    const live = new State();
    const enqueue = enqueuer({ maxAttempts: 5 });
    const ids = Array.from({ length: 24 }, () => enqueue(live));
    // Three batches claimed at different times, then ended differently and interleaved.
    const batches = [
      { claimedAt: NOW + 10, endedAt: NOW + 50, error: undefined, keep: false },
      { claimedAt: NOW + 20, endedAt: NOW + 60, error: "boom", keep: false },
      { claimedAt: NOW + 30, endedAt: NOW + 70, error: undefined, keep: true },
    ] as const;
    const batchOf = (i: number) => batches[i % 3]!;
    for (let i = 0; i < ids.length; i++)
      apply(live, { tag: Tag.Claim, id: ids[i]!, at: batchOf(i).claimedAt });
    // Ended in runs, each batch in two: A, B, C, A, B, C (a run shares, a batch spans two runs).
    const order = [0, 1, 2, 0, 1, 2].flatMap((b, run) =>
      ids.map((_, i) => i).filter((i) => i % 3 === b && (run < 3 ? i < 12 : i >= 12)),
    );
    const ends: QueueRecord[] = order.map((i) => {
      const id = ids[i]!;
      const { endedAt, error, keep } = batchOf(i);
      if (keep) return { tag: Tag.Ack, id, keep: true, at: endedAt };
      return error === undefined
        ? { tag: Tag.Retry, id, runAt: undefined, error, cause: "interrupted", at: endedAt }
        : { tag: Tag.Retry, id, runAt: undefined, error, at: endedAt };
    });
    // A checkpoint cut part-way: the restored state's sharing cache starts empty there.
    const cut = 7;
    for (const record of ends.slice(0, cut)) apply(live, record);
    const writer = new SnapshotWriter(live, 0, new SliceBudget(0));
    let bytes: Uint8Array | null = null;
    const tail = ends.slice(cut);
    for (const record of tail) {
      apply(live, record);
      bytes ??= writer.step();
    }
    while (bytes === null) bytes = writer.step();
    const restored = decodeSnapshot(bytes.slice());
    for (const record of tail) apply(restored, record);

    for (const [name, state] of [
      ["live", live],
      ["restored", restored],
    ] as const) {
      for (let i = 0; i < ids.length; i++) {
        const { claimedAt, endedAt, error } = batchOf(i);
        const extras = state.table.extras(state.find(ids[i]!));
        const history = decodeHistory(extras!.history!);
        assert.equal(history.length, 1, `${name} job ${i}`);
        assert.equal(history[0]!.claimedAt, claimedAt, `${name} job ${i}`);
        assert.equal(history[0]!.recordedAt, endedAt, `${name} job ${i}`);
        assert.equal(extras!.lastError, error, `${name} job ${i}`);
      }
    }
    assert.equal(stateDigest(restored), stateDigest(live));
    // And they do share: one object per run live.
    const objects = new Set(ids.map((id) => live.table.extras(live.find(id))));
    assert.equal(objects.size, 6);
  });
});
