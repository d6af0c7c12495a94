/**
 * A snapshot encoded in slices is the state as of its start, whatever changes
 * between slices — including changes to the rarely set fields (attempt
 * history, progress, results, lastError, headers, caller ids, group keys),
 * to row flags, to rows freed and reused, to queues' pause flags and done
 * counts, and to the KV namespace. Each slice does the least work it can,
 * so a change lands between any two units of the encoder (mid-page too).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { apply } from "../../src/queue/apply.js";
import { IdGenerator } from "../../src/queue/ids.js";
import type { QueueRecord } from "../../src/queue/records/codec.js";
import { Tag } from "../../src/queue/records/tags.js";
import { decodeSnapshot } from "../../src/queue/snapshot.js";
import { SnapshotWriter } from "../../src/queue/snapshot-encoder.js";
import { State, Status } from "../../src/queue/state.js";
import { Flag, PAGE_SLOTS, slot } from "../../src/queue/table.js";
import { seededRandom as random } from "../../src/util/random.js";
import { SliceBudget } from "../../src/util/slices.js";
import { auditState, stateDigest } from "../reliability/lib/audit.js";

const NOW = 1_700_000_000_000;

function enqueue(gen: IdGenerator, i: number, rnd: () => number): QueueRecord {
  return {
    tag: Tag.Enqueue,
    id: gen.next(NOW + i),
    queue: ["a", "b", "c"][i % 3]!,
    payload: Buffer.from(`p${i}-`.repeat(1 + Math.floor(rnd() * 20))),
    headers: rnd() < 0.2 ? { h: String(i) } : undefined,
    priority: Math.floor(rnd() * 4),
    maxAttempts: 1 + Math.floor(rnd() * 4),
    enqueuedAt: NOW + i,
    runAt: rnd() < 0.1 ? NOW + 10_000 + i : undefined,
    dedupKey: rnd() < 0.1 ? `d${i}` : undefined,
    ...(rnd() < 0.2 ? { jobId: `job-${i}` } : {}),
    ...(rnd() < 0.2 ? { groupKey: `g${i % 7}` } : {}),
  };
}

/** One change to a random live job (or the KV, or a queue), as records that apply. */
function change(state: State, ids: string[], rnd: () => number, i: number): QueueRecord[] {
  const roll = rnd();
  if (roll < 0.05)
    return [{ tag: Tag.KvPut, key: `k${Math.floor(rnd() * 50)}`, value: Buffer.from(`v${i}`) }];
  if (roll < 0.08) return [{ tag: Tag.KvDelete, key: `k${Math.floor(rnd() * 50)}` }];
  if (roll < 0.1)
    return [{ tag: Tag.PauseQueue, queue: ["a", "b", "c"][i % 3]!, paused: rnd() < 0.5 }];
  if (roll < 0.11)
    return [
      {
        tag: Tag.SweepCancelledSome,
        queue: ["a", "b", "c"][i % 3]!,
        before: NOW + 1_000 + i - 5_000,
        limit: 1 + Math.floor(rnd() * 20),
      },
    ];
  const id = ids[Math.floor(rnd() * ids.length)]!;
  const h = state.find(id);
  if (h === -1) return [];
  const at = NOW + 1_000 + i;
  switch (state.statusOf(h)) {
    case Status.Pending:
      // Cancelled jobs leave tombstones that the sweeps above drop again.
      return rnd() < 0.1 ? [{ tag: Tag.Cancel, id, at }] : [{ tag: Tag.Claim, id, at }];
    case Status.Scheduled:
      return [{ tag: Tag.Wake, id }];
    case Status.Claimed: {
      const page = state.table.read(h);
      if ((page.flags[slot(h)]! & Flag.CancelRequested) !== 0) return [{ tag: Tag.Cancel, id, at }];
      const r = rnd();
      if (r < 0.2) return [{ tag: Tag.CancelRequest, id }];
      if (r < 0.5 && page.attempts[slot(h)]! < page.maxAttempts[slot(h)]!)
        return [
          {
            tag: Tag.Retry,
            id,
            runAt: rnd() < 0.5 ? undefined : at + 5_000,
            error: `failed ${i}`,
            cause: "timed_out",
            at,
            progress: JSON.stringify({ step: i }),
          },
        ];
      if (r < 0.8)
        return [
          {
            tag: Tag.Ack,
            id,
            keep: true,
            at,
            result: Buffer.from(`result ${i}`),
            progress: JSON.stringify({ done: i }),
          },
        ];
      return [{ tag: Tag.Dead, id, at, reason: `dead ${i}`, progress: `"p${i}"` }];
    }
    case Status.Done:
    case Status.Dead:
      return rnd() < 0.5
        ? [{ tag: Tag.Remove, id }]
        : state.statusOf(h) === Status.Dead
          ? [{ tag: Tag.RequeueDead, id, at }]
          : [{ tag: Tag.Remove, id }];
    default:
      return [];
  }
}

describe("snapshots taken while every kind of field changes", { timeout: 120_000 }, () => {
  for (const seed of [1, 2, 3]) {
    it(`seed ${seed}: the snapshot equals the state at its start`, () => {
      const rnd = random(seed);
      const state = new State();
      const gen = new IdGenerator(null, 1);
      const ids: string[] = [];
      // Rows with history, progress, results and errors in every page, and a free row here and there.
      for (let i = 0; i < PAGE_SLOTS + 3_000; i++) {
        const record = enqueue(gen, i, rnd);
        ids.push((record as { id: string }).id);
        apply(state, record);
      }
      for (let i = 0; i < 20_000; i++) for (const r of change(state, ids, rnd, i)) apply(state, r);
      assert.deepEqual(auditState(state), []);
      const frozen = stateDigest(state);
      const encoder = new SnapshotWriter(state, 26, new SliceBudget(0));
      let bytes: Uint8Array | null = null;
      let steps = 0;
      let i = 20_000;
      while (bytes === null) {
        bytes = encoder.step();
        steps++;
        for (let k = 0; k < 300; k++, i++) {
          for (const r of change(state, ids, rnd, i)) apply(state, r);
          if (rnd() < 0.3) {
            // New rows reuse the ones just freed (in pages the view still reads).
            const record = enqueue(gen, i, rnd);
            ids.push((record as { id: string }).id);
            apply(state, record);
          }
        }
      }
      assert.ok(steps > 10, `${steps} slices`);
      const restored = decodeSnapshot(bytes.subarray(26));
      assert.equal(stateDigest(restored), frozen);
      assert.deepEqual(auditState(restored), []);
      assert.deepEqual(auditState(state), [], "the live state is sound after the view ended");
    });
  }
});
