/**
 * A flow's transaction is checked in the slices before its commit
 * (`TransactionCheck`, assuming its first id is the newest), and its apply
 * then rechecks only what the state may have changed meanwhile. Whatever
 * happened in between (jobs enqueued, with newer ids, with the same ids or
 * caller ids; a job cancelled), the apply with the precheck must do exactly
 * what the apply without it does: the same outcome and the same state.
 * Among them, what the commit does not recheck: a dedup key taken, a flow
 * parent of the state woken, an id of the transaction that is not its
 * newest taken. A transaction that may meet those keeps no precheck.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { apply } from "../../src/queue/apply.js";
import { IdGenerator } from "../../src/queue/ids.js";
import { ApplyError } from "../../src/queue/placement.js";
import type { EnqueueRecord } from "../../src/queue/records/enqueue.js";
import { Tag } from "../../src/queue/records/tags.js";
import type { TransactionRecord } from "../../src/queue/records/transaction.js";
import { State } from "../../src/queue/state.js";
import {
  type PrecheckedTransaction,
  TransactionCheck,
  takenCallerId,
} from "../../src/queue/transaction-check.js";
import { seededRandom as rng } from "../../src/util/random.js";
import { auditState, stateDigest } from "../reliability/lib/audit.js";
import { enqueueRecord as job } from "./helpers.js";

function tryApply(state: State, rec: TransactionRecord, pre: PrecheckedTransaction | null): string {
  if (pre !== null) state.expectPrechecked(pre);
  try {
    apply(state, rec);
    return "ok";
  } catch (error) {
    if (error instanceof ApplyError) return `refused: ${error.message}`;
    throw error;
  } finally {
    state.forgetExpected();
  }
}

/** `rec` checked against `state` as a flow's preparation checks it, or null (no precheck). */
function precheck(state: State, rec: TransactionRecord): PrecheckedTransaction | null {
  const check = new TransactionCheck(state, rec.ops.length, null, true);
  try {
    for (const op of rec.ops) check.op(op);
  } catch (error) {
    if (error instanceof ApplyError) return null;
    throw error;
  }
  return check.prechecked(rec);
}

const SEEDS = Number(process.env.TAQUBA_FRESHNESS_SEEDS ?? 1_500);

describe("a transaction checked before its commit", () => {
  it("applies as it would unchecked, whatever the state did in between", () => {
    let used = 0;
    let refusedWithPrecheck = 0;
    const hit = new Set<number>();
    for (let seed = 1; seed <= SEEDS; seed++) {
      const r = rng(seed);
      const gen = new IdGenerator(null, 1);
      // Sometimes a flow parent in the state, waiting for its one child.
      const waiting = r() < 0.3 ? gen.next(900) : undefined;
      const waitingChild = gen.next(900);
      const pool = Array.from({ length: 30 }, (_, k) => gen.next(1_000 + Math.floor(k / 5)));
      const inState = pool.slice(0, Math.floor(r() * 10));
      // The transaction: ids after the state's, mostly in order (a flow's), sometimes not.
      const rest = pool.slice(inState.length);
      const ordered = r() < 0.8;
      const ops: EnqueueRecord[] = [];
      const n = 1 + Math.floor(r() * 8);
      let parent: string | undefined;
      for (let k = 0; k < n && k < rest.length; k++) {
        const id = ordered ? rest[k]! : rest[Math.floor(r() * rest.length)]!;
        const extra: { -readonly [K in keyof EnqueueRecord]?: EnqueueRecord[K] } = {};
        if (r() < 0.25) extra.jobId = `c-${Math.floor(r() * 4)}`;
        if (r() < 0.1) extra.dedupKey = "d";
        if (k === 0 && r() < 0.6) {
          extra.waitsForChildren = true;
          parent = id;
        } else if (parent !== undefined && r() < 0.8) extra.flowParent = parent;
        else if (r() < (waiting === undefined ? 0.05 : 0.4))
          extra.flowParent = waiting ?? inState[0] ?? "nope";
        ops.push(job(id, extra));
      }
      if (parent !== undefined && !ops.some((op) => op.flowParent === parent))
        ops.push(job(rest[rest.length - 1]!, { flowParent: parent }));
      const record: TransactionRecord = { tag: Tag.Transaction, ops };
      const setup = (state: State): void => {
        if (waiting !== undefined) {
          apply(state, job(waiting, { waitsForChildren: true }));
          const child = job(waitingChild, { flowParent: waiting });
          apply(state, { tag: Tag.Transaction, ops: [child] });
        }
        for (const id of inState) apply(state, job(id, { jobId: `j-${id}` }));
      };
      // What may happen between the precheck and the commit (the same on both states).
      // Cases 7 and 8 (a parent woken, an out-of-order id taken) are for fewer transactions: more
      // often for those.
      let between = Math.floor(r() * 9);
      if (waiting !== undefined && r() < 0.3) between = 7;
      else if (!ordered && r() < 0.3) between = 8;
      const betweenId = pool[Math.floor(r() * pool.length)]!;
      const newest = gen.next(9_000);
      // Older than every id of the state and the transaction, in no job.
      const older = new IdGenerator(null, 1).next(500);
      const betweenJobId = `c-${Math.floor(r() * 4)}`;
      // An id of the transaction older than its first (not fresh: only out of order).
      const notFresh = ops.find((op) => op.id < ops[0]!.id)?.id;
      const meanwhile = (state: State): void => {
        const before = between >= 6 ? stateDigest(state) : "";
        meanwhileOf(state);
        if (between >= 6 && stateDigest(state) !== before) hit.add(between);
      };
      const meanwhileOf = (state: State): void => {
        if (between === 1) apply(state, job(newest));
        else if (between === 2) apply(state, job(newest, { jobId: betweenJobId }));
        else if (between === 3 && state.find(betweenId) === -1) apply(state, job(betweenId));
        else if (between === 4 && inState.length > 0)
          apply(state, { tag: Tag.Cancel, id: inState[inState.length - 1]!, at: 2 });
        else if (between === 5) apply(state, job(older, { jobId: betweenJobId }));
        else if (between === 6) apply(state, job(older, { dedupKey: "d" }));
        else if (between === 7 && waiting !== undefined)
          apply(state, { tag: Tag.Cancel, id: waitingChild, at: 2 });
        else if (between === 8 && notFresh !== undefined && state.find(notFresh) === -1)
          apply(state, job(notFresh));
      };
      const checked = new State();
      setup(checked);
      const pre = precheck(checked, record);
      meanwhile(checked);
      const plainState = new State();
      setup(plainState);
      meanwhile(plainState);
      const a = tryApply(checked, record, pre);
      const b = tryApply(plainState, record, null);
      assert.equal(a, b, `seed ${seed}: outcome (between ${between})`);
      assert.equal(stateDigest(checked), stateDigest(plainState), `seed ${seed}: state`);
      if (a === "ok") assert.deepEqual(auditState(checked), [], `seed ${seed}: audit`);
      if (pre !== null) {
        used++;
        if (a !== "ok") refusedWithPrecheck++;
      }
    }
    // The precheck was used, for transactions committed and refused alike.
    assert.ok(used > SEEDS / 4, `prechecked ${used}`);
    assert.ok(refusedWithPrecheck > 0, `refused with a precheck ${refusedWithPrecheck}`);
    // A dedup key taken, a parent woken, an id that is not the first taken: each happened.
    assert.deepEqual([...hit].sort(), [6, 7, 8]);
  });
});

describe("a precheck handed to apply", () => {
  it("serves only the record it was made for, once, and is dropped with the other hints", () => {
    const gen = new IdGenerator(null, 1);
    const state = new State();
    apply(state, job(gen.next(1_000), { jobId: "taken" }));
    const first = gen.next(2_000);
    const record: TransactionRecord = {
      tag: Tag.Transaction,
      ops: [job(first, { jobId: "free" })],
    };
    const pre = precheck(state, record);
    assert.notEqual(pre, null);
    // Another record, with the same first id, whose caller id is taken: its own check refuses it.
    const other: TransactionRecord = {
      tag: Tag.Transaction,
      ops: [job(first, { jobId: "taken" })],
    };
    assert.equal(state.takePrechecked(record), null, "no hint given");
    state.expectPrechecked(pre!);
    assert.equal(state.takePrechecked(other), null, "a hint for another record is not used");
    assert.equal(state.takePrechecked(record), null, "and is used up");
    state.expectPrechecked(pre!);
    assert.equal(state.takePrechecked(record), pre, "the hint for this record");
    state.expectPrechecked(pre!);
    state.forgetExpected();
    assert.equal(state.takePrechecked(record), null, "dropped with the other hints");
    // The commit of the other record checks it whole, not with the hint for this one.
    const before = stateDigest(state);
    assert.match(tryApply(state, other, pre), /^refused: .*"taken"/);
    assert.equal(stateDigest(state), before);
    assert.equal(tryApply(state, record, pre), "ok");
  });

  it("caller ids the commit found free are not looked up again, unless a job was added since or the state is another", () => {
    const gen = new IdGenerator(null, 1);
    // Ids older than every other: jobs added with them leave the transaction's first id the newest.
    const older = new IdGenerator(null, 1);
    const takenId = gen.next(1_000);
    const setup = (): State => {
      const state = new State();
      apply(state, job(takenId, { jobId: "taken" }));
      return state;
    };
    const state = setup();
    const record: TransactionRecord = {
      tag: Tag.Transaction,
      ops: [job(gen.next(2_000), { jobId: "a" }), job(gen.next(2_000), { jobId: "b" })],
    };
    const pre = precheck(state, record)!;
    assert.deepEqual(pre.jobIds, ["a", "b"]);
    // What the commit's own lookup finds: a caller id that names a job, by its jobId or its id.
    const named = setup();
    apply(named, job(older.next(500), { jobId: "b" }));
    assert.equal(takenCallerId(named, pre), "b");
    assert.equal(pre.callerIdsFree, null);
    const byId = precheck(state, {
      tag: Tag.Transaction,
      ops: [job(gen.next(2_000), { jobId: gen.next(900) })],
    })!;
    const withThatId = setup();
    apply(withThatId, job(byId.jobIds[0]!));
    assert.equal(takenCallerId(withThatId, byId), byId.jobIds[0]);
    // Found free, then a job with one of them added (an older id: the first is still the newest).
    assert.equal(takenCallerId(state, pre), null);
    const looked: string[] = [];
    const has = state.jobIds.has.bind(state.jobIds);
    state.jobIds.has = (key: string) => {
      looked.push(key);
      return has(key);
    };
    apply(state, job(older.next(500), { jobId: "a" }));
    looked.length = 0;
    assert.match(tryApply(state, record, pre), /^refused: .*"a"/);
    assert.ok(looked.includes("a"), "rechecked");
    // Found free in another state with as many jobs: looked up again in this one.
    const other = setup();
    apply(other, job(older.next(500)));
    assert.equal(other.nextSeq, state.nextSeq);
    assert.equal(takenCallerId(other, pre), null);
    looked.length = 0;
    assert.match(tryApply(state, record, pre), /^refused: .*"a"/);
    assert.ok(looked.includes("a"), "rechecked");
    // Found free, nothing added since: the apply takes the answer.
    const fresh = setup();
    const freshPre = precheck(fresh, record)!;
    assert.equal(takenCallerId(fresh, freshPre), null);
    const freshHas = fresh.jobIds.has.bind(fresh.jobIds);
    let freshLooked = 0;
    fresh.jobIds.has = (key: string) => {
      freshLooked++;
      return freshHas(key);
    };
    assert.equal(tryApply(fresh, record, freshPre), "ok");
    assert.equal(freshLooked, 0, "no caller id looked up again");
    assert.deepEqual(auditState(fresh), []);
  });
});
