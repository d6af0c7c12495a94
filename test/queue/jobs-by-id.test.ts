import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { apply } from "../../src/queue/apply.js";
import { IdGenerator } from "../../src/queue/ids.js";
import { JobsByIdBuilder } from "../../src/queue/jobs-by-id.js";
import { walkById } from "../../src/queue/listing.js";
import { Tag } from "../../src/queue/records/tags.js";
import { decodeSnapshot, encodeSnapshot } from "../../src/queue/snapshot.js";
import { State } from "../../src/queue/state.js";
import { deadJobsPage } from "../../src/queue/views.js";
import { SliceBudget } from "../../src/util/slices.js";
import { enqueueRecord } from "./helpers.js";

/** Own ids out of enqueue order, before ("-", "0…"), among and after the generated ones. */
const OWN = ["job-b", "job-a", undefined, "-first", undefined, "Zed", undefined, "000", "job-c"];

/** A state with the jobs of {@link OWN} in queue "q", all claimed; their public ids in enqueue order. */
function claimedState(): { state: State; ids: string[]; generated: string[] } {
  const state = new State();
  const gen = new IdGenerator(null, 1);
  const ids: string[] = [];
  const generated: string[] = [];
  let now = 1_000;
  for (const jobId of OWN) {
    const id = gen.next(now++);
    generated.push(id);
    ids.push(jobId ?? id);
    apply(
      state,
      enqueueRecord(id, {
        maxAttempts: 1,
        enqueuedAt: now,
        ...(jobId === undefined ? {} : { jobId }),
      }),
    );
  }
  for (const id of generated) apply(state, { tag: Tag.Claim, id, at: now++ });
  return { state, ids, generated };
}

function listed(state: State, status: "claimed" | "dead", after: string | null): string[] {
  const qs = state.queues.get("q")!;
  const out: string[] = [];
  walkById(state, status === "claimed" ? qs.claimed : qs.deadById, after, (h, id) => {
    assert.equal(id, state.publicIdOf(h));
    out.push(id);
    return true;
  });
  return out;
}

/** `n` enqueued jobs in queue "q", about two in three with their own ids; their handles in enqueue order. */
function ownIdJobs(n: number): { state: State; handles: number[]; rand: (n: number) => number } {
  const state = new State();
  const gen = new IdGenerator(null, 1);
  let x = 7;
  const rand = (n: number) => {
    x = (x * 1_103_515_245 + 12_345) % 2 ** 31;
    return x % n;
  };
  const handles: number[] = [];
  for (let i = 0; i < n; i++) {
    const id = gen.next(1_000 + i);
    const jobId = rand(3) === 0 ? undefined : `${"-0Zz"[rand(4)]}${rand(100_000)}-${i}`;
    apply(state, enqueueRecord(id, { maxAttempts: 1, ...(jobId === undefined ? {} : { jobId }) }));
    handles.push(state.find(id));
  }
  return { state, handles, rand };
}

/** The own ids of `handles`, sorted. */
function sortedOwnIds(state: State, handles: readonly number[]): string[] {
  return handles
    .map((h) => state.orders.ownIdOf(h))
    .filter((id) => id !== undefined)
    .sort();
}

describe("claimed and dead jobs by id", () => {
  it("only jobs with their own ids enter the own-id indexes; generated ones stay in enqueue order", () => {
    const { state, ids, generated } = claimedState();
    const qs = state.queues.get("q")!;
    const publicIds = (handles: number[]) => handles.map((h) => state.publicIdOf(h));
    assert.deepEqual(
      publicIds(qs.claimed.generated.toArray()),
      ids.filter((id) => generated.includes(id)),
    );
    assert.deepEqual(publicIds(qs.claimed.ownBySeq.toArray()), [
      "job-b",
      "job-a",
      "-first",
      "Zed",
      "000",
      "job-c",
    ]);
    assert.deepEqual(publicIds(qs.claimed.ownById.toArray()), [
      "-first",
      "000",
      "Zed",
      "job-a",
      "job-b",
      "job-c",
    ]);
    assert.equal(qs.claimed.size, OWN.length);
    assert.equal(qs.claimed.problems(), null);
    assert.deepEqual(listed(state, "claimed", null), [...ids].sort());
    // Dead-lettered, each leaves both claimed indexes and enters the dead ones.
    let now = 10_000;
    for (const id of state.handles().map((h) => state.idOf(h)))
      apply(state, { tag: Tag.Dead, id, at: now++, reason: "r" });
    assert.equal(qs.claimed.size, 0);
    assert.equal(qs.claimed.ownById.size, 0);
    assert.equal(qs.deadById.size, OWN.length);
    assert.equal(qs.deadById.problems(), null);
    assert.deepEqual(listed(state, "dead", null), [...ids].sort());
  });

  it("an `after` is a plain exclusive bound on both kinds of id: a job's, a removed one's, or none", () => {
    const { state, ids } = claimedState();
    const sorted = [...ids].sort();
    const after = (bound: string) => sorted.filter((id) => id > bound);
    for (const bound of [...sorted, "", "-", "0", "00", "1", "Z", "a", "job-b0", "~", "\u{1F600}"])
      assert.deepEqual(
        listed(state, "claimed", bound),
        after(bound),
        `after ${JSON.stringify(bound)}`,
      );
    // deadJobsPage: the same bound, and an empty one lists from the first.
    let now = 10_000;
    for (const id of state.handles().map((h) => state.idOf(h)))
      apply(state, { tag: Tag.Dead, id, at: now++, reason: "r" });
    const page = (bound: string | undefined, limit: number) =>
      deadJobsPage(state, "q", bound, limit).map((h) => state.publicIdOf(h));
    assert.deepEqual(page(undefined, 100), sorted);
    assert.deepEqual(page("", 3), sorted.slice(0, 3));
    assert.deepEqual(page("job-a", 100), ["job-b", "job-c"]);
    // Removed: the bound stays where it was.
    const removed = state.findPublic("job-a");
    apply(state, { tag: Tag.Remove, id: state.idOf(removed) });
    assert.equal(state.findPublic("job-a"), -1);
    assert.deepEqual(page("job-a", 100), ["job-b", "job-c"]);
    assert.deepEqual(page("never-was", 100), []);
  });

  it("a restore's builder gives the by-id order whatever pieces the enqueue-ordered list comes in", () => {
    const { state, handles, rand } = ownIdJobs(3_000);
    const expected = sortedOwnIds(state, handles);
    for (const maxPiece of [1, 7, 300, 5_000]) {
      const builder = new JobsByIdBuilder(state.orders);
      for (let at = 0; at < handles.length; ) {
        const to = Math.min(handles.length, at + 1 + rand(maxPiece));
        builder.append(handles, at, to);
        at = to;
      }
      const built = builder.finish();
      assert.equal(built.problems(), null, `pieces up to ${maxPiece}`);
      assert.deepEqual(
        built.ownById.toArray().map((h) => state.orders.ownIdOf(h)),
        expected,
      );
      assert.deepEqual(built.toArray().sort(), [...handles].sort());
    }
  });

  it("a restore's builder merges and builds in bounded steps under a slice budget, to the same result", () => {
    // Enough own ids that the last merges and the index build take several steps each.
    const { state, handles, rand } = ownIdJobs(30_000);
    const expected = sortedOwnIds(state, handles);
    // Spent at once: every call does one bounded step and returns.
    const budget = new SliceBudget(0, () => 0);
    budget.start();
    for (const maxPiece of [1, 300, 4_096, 40_000]) {
      const sliced = new JobsByIdBuilder(state.orders);
      const whole = new JobsByIdBuilder(state.orders);
      let calls = 0;
      for (let at = 0; at < handles.length; ) {
        const to = Math.min(handles.length, at + 1 + rand(maxPiece));
        while (!sliced.settle(budget)) calls++;
        sliced.append(handles, at, to);
        whole.append(handles, at, to);
        at = to;
      }
      while (!sliced.complete(budget)) calls++;
      const built = sliced.result();
      assert.ok(calls > 3, `pieces up to ${maxPiece}: ${calls} unfinished steps`);
      assert.equal(built.problems(), null, `pieces up to ${maxPiece}`);
      assert.deepEqual(
        built.ownById.toArray().map((h) => state.orders.ownIdOf(h)),
        expected,
      );
      const once = whole.finish();
      assert.deepEqual(built.ownById.toArray(), once.ownById.toArray());
      assert.deepEqual(built.ownBySeq.toArray(), once.ownBySeq.toArray());
      assert.deepEqual(built.toArray(), once.toArray());
    }
  });

  it("a checkpoint stores one enqueue-ordered list per status as before; a restore rebuilds the id order", () => {
    const { state, ids } = claimedState();
    let now = 10_000;
    // Every other job dead, the rest still claimed.
    const handles = state.handles();
    for (const h of handles.filter((_, i) => i % 2 === 0))
      apply(state, { tag: Tag.Dead, id: state.idOf(h), at: now++, reason: "r" });
    const restored = decodeSnapshot(encodeSnapshot(state));
    for (const status of ["claimed", "dead"] as const)
      assert.deepEqual(listed(restored, status, null), listed(state, status, null), status);
    const qs = restored.queues.get("q")!;
    assert.equal(qs.claimed.problems() ?? qs.deadById.problems(), null);
    assert.deepEqual(
      [...listed(restored, "claimed", null), ...listed(restored, "dead", null)].sort(),
      [...ids].sort(),
    );
    // The stored lists are in enqueue order (the decoder checks it, as earlier releases' do):
    // the own-id jobs come back in their enqueue order too.
    assert.deepEqual(
      qs.deadById.ownBySeq.toArray().map((h) => restored.publicIdOf(h)),
      state.queues
        .get("q")!
        .deadById.ownBySeq.toArray()
        .map((h) => state.publicIdOf(h)),
    );
  });
});
