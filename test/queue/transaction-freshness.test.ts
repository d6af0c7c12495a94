/**
 * A transaction's enqueues are checked once: the check records each one's id bytes and whether
 * it is fresh (newer than every id of the state and the fresh ones before it), and the apply
 * trusts that. Random transactions (ids out of order, an id equal to the newest after its job
 * was cancelled, colliding caller ids and dedup keys, flows, acks, cancels, KV puts) must give
 * the same state live, decoded as at replay, and (without flows) one enqueue at a time, with the
 * newest id of the state the largest one issued.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { apply } from "../../src/queue/apply.js";
import { IdGenerator } from "../../src/queue/ids.js";
import { ApplyError } from "../../src/queue/placement.js";
import { decodeRecord, encodeRecord, type QueueRecord } from "../../src/queue/records/codec.js";
import { Tag } from "../../src/queue/records/tags.js";
import { State } from "../../src/queue/state.js";
import { seededRandom as rng } from "../../src/util/random.js";
import { auditState, stateDigest } from "../reliability/lib/audit.js";
import { enqueueRecord as job } from "./helpers.js";

function tryApply(state: State, rec: QueueRecord): string {
  try {
    apply(state, rec);
    return "ok";
  } catch (error) {
    if (error instanceof ApplyError) return "refused";
    throw error;
  }
}

/** Random transactions tried (`TAQUBA_FRESHNESS_SEEDS` tries more, for a longer search). */
const SEEDS = Number(process.env.TAQUBA_FRESHNESS_SEEDS ?? 1_500);

describe("freshness of a transaction's enqueues", () => {
  it("live, decoded and one-by-one apply agree on random transactions (ids out of order, mixed ops)", () => {
    let applied = 0;
    let refused = 0;
    for (let seed = 1; seed <= SEEDS; seed++) {
      const r = rng(seed);
      const gen = new IdGenerator(null, 1);
      // A pool of ids in increasing order; the state gets some, the transaction others.
      const pool = Array.from({ length: 40 }, (_, k) => gen.next(1_000 + Math.floor(k / 7)));
      const inState = pool.filter(() => r() < 0.3);
      const cancelNewest = r() < 0.5;
      const setup = (state: State): void => {
        for (const id of inState) apply(state, job(id, { jobId: `j-${id}` }));
        // Claim a few so acks are possible; cancel a newest one so lastId outlives its job.
        for (const id of inState.slice(0, 3)) apply(state, { tag: Tag.Claim, id, at: 2 });
        const newest = inState[inState.length - 1];
        if (newest !== undefined && inState.length > 3 && cancelNewest)
          apply(state, { tag: Tag.Cancel, id: newest, at: 2 });
      };
      const ops: QueueRecord[] = [];
      const n = 1 + Math.floor(r() * 12);
      let parent: string | undefined;
      for (let k = 0; k < n; k++) {
        const x = r();
        if (x < 0.75) {
          const id = pool[Math.floor(r() * pool.length)]!;
          const extra: Record<string, unknown> = {};
          if (r() < 0.2) extra.jobId = `c-${Math.floor(r() * 5)}`;
          if (r() < 0.2) extra.dedupKey = `d-${Math.floor(r() * 5)}`;
          if (r() < 0.2) extra.groupKey = "g";
          if (parent === undefined && r() < 0.3) {
            extra.waitsForChildren = true;
            parent = id;
          } else if (parent !== undefined && r() < 0.6) extra.flowParent = parent;
          ops.push(job(id, extra));
        } else if (x < 0.85 && inState.length > 0) {
          ops.push({
            tag: Tag.Ack,
            id: inState[Math.floor(r() * 3) % inState.length]!,
            keep: false,
            at: 3,
          });
        } else if (x < 0.95 && inState.length > 0) {
          ops.push({ tag: Tag.Cancel, id: inState[Math.floor(r() * inState.length)]!, at: 3 });
        } else ops.push({ tag: Tag.KvPut, key: "k", value: Buffer.from("v") } as QueueRecord);
      }
      if (
        parent !== undefined &&
        !ops.some((op) => op.tag === Tag.Enqueue && op.flowParent === parent)
      )
        ops.push(job(gen.next(50_000), { flowParent: parent }));
      const record = { tag: Tag.Transaction, ops } as QueueRecord;
      const live = new State();
      setup(live);
      const before = stateDigest(live);
      const lastIdBefore = live.lastId;
      const replayed = new State();
      setup(replayed);
      const a = tryApply(live, record);
      const b = tryApply(replayed, decodeRecord(encodeRecord(record)));
      assert.equal(a, b, `seed ${seed}: outcome`);
      if (a === "refused") {
        assert.equal(
          stateDigest(live),
          before,
          `seed ${seed}: a refused transaction changed the state`,
        );
        assert.equal(live.lastId, lastIdBefore, `seed ${seed}: a refused transaction moved lastId`);
        assert.equal(live.newChildren.byParent.size, 0);
        refused++;
        continue;
      }
      applied++;
      // The newest id ever issued: the largest of the state's and the transaction's (flows too),
      // whatever order they came in (the apply records it once per run of enqueues).
      const newest = [
        ...inState,
        ...ops.flatMap((op) => (op.tag === Tag.Enqueue ? [op.id] : [])),
      ].reduce<string | null>((max, id) => (max === null || id > max ? id : max), null);
      assert.equal(live.lastId, newest, `seed ${seed}: lastId live`);
      assert.equal(replayed.lastId, newest, `seed ${seed}: lastId replayed`);
      assert.equal(stateDigest(replayed), stateDigest(live), `seed ${seed}: live vs replay`);
      assert.deepEqual(auditState(live), [], `seed ${seed}: audit`);
      // One by one (no flows there: a one-by-one flow child applies the same way).
      if (
        !ops.some(
          (op) => op.tag === Tag.Enqueue && (op.flowParent !== undefined || op.waitsForChildren),
        )
      ) {
        const one = new State();
        setup(one);
        for (const op of ops) apply(one, op);
        assert.equal(stateDigest(one), stateDigest(live), `seed ${seed}: one by one`);
      }
      // Every id the pool has is either found or new, in all states, and the index agrees with lastId.
      for (const state of [live, replayed]) {
        for (const id of pool) {
          const h = state.find(id);
          if (h !== -1) assert.equal(state.idOf(h), id);
        }
        const next = gen.next(99_999);
        assert.equal(state.isNewestId(state.idKeyIfUlid(next)!, 0), true);
        assert.equal(tryApply(state, job(next)), "ok");
      }
    }
    // Both outcomes were exercised.
    assert.ok(applied > 150 && refused > 150, `applied ${applied}, refused ${refused}`);
  });
});
