/**
 * `apply` of a transaction refuses, with `ApplyError` and nothing changed, a
 * flow child that follows an operation that may end its (existing) parent:
 * no queue call writes one, but a damaged or hand-made record may. And it
 * still applies what earlier versions wrote that a transaction call now
 * refuses.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { apply } from "../../src/queue/apply.js";
import { IdGenerator } from "../../src/queue/ids.js";
import { ApplyError } from "../../src/queue/placement.js";
import { decodeRecord, encodeRecord, type QueueRecord } from "../../src/queue/records/codec.js";
import { Tag } from "../../src/queue/records/tags.js";
import { State, Status } from "../../src/queue/state.js";
import { slot } from "../../src/queue/table.js";
import { stateDigest } from "../reliability/lib/audit.js";
import { enqueueRecord as job } from "./helpers.js";

describe("apply of a transaction with flow children", () => {
  it("refuses a child of a waiting parent that an earlier operation cancels", () => {
    const state = new State();
    const ids = new IdGenerator(null, 1);
    const parent = ids.next(1_000);
    const child = ids.next(1_000);
    apply(state, {
      tag: Tag.Transaction,
      ops: [job(parent, { waitsForChildren: true }), job(child, { flowParent: parent })],
    });
    const before = stateDigest(state);
    const late = ids.next(1_000);
    const record = {
      tag: Tag.Transaction,
      ops: [{ tag: Tag.Cancel, id: parent, at: 2 }, job(late, { flowParent: parent })],
    } as QueueRecord;
    assert.throws(() => apply(state, record), ApplyError);
    assert.equal(stateDigest(state), before);
    // The same child before the cancel is added, then cancelled with its parent.
    apply(state, {
      tag: Tag.Transaction,
      ops: [job(late, { flowParent: parent }), { tag: Tag.Cancel, id: parent, at: 2 }],
    } as QueueRecord);
    assert.notEqual(stateDigest(state), before);
  });

  it("refuses a child whose parent the state lacks, and a waiting parent with a runAt", () => {
    const ids = new IdGenerator(null, 1);
    const [parent, child, other] = [ids.next(1_000), ids.next(1_000), ids.next(1_000)];
    const refused = (ops: QueueRecord[], message: RegExp): void => {
      const state = new State();
      apply(state, job(other));
      const before = stateDigest(state);
      const record = { tag: Tag.Transaction, ops } as QueueRecord;
      assert.throws(() => apply(state, record), message);
      assert.throws(() => apply(state, decodeRecord(encodeRecord(record))), message);
      assert.equal(stateDigest(state), before);
    };
    refused([job(child, { flowParent: parent })], /flow child .*: /);
    // A parent that does not wait for children.
    refused([job(child, { flowParent: other })], /flow child .*: /);
    refused([job(parent, { waitsForChildren: true, runAt: 5 })], /flow parent .* has a runAt/);
    // The first problem of an enqueue is the one reported: its parent before its own runAt.
    refused(
      [job(child, { flowParent: parent, waitsForChildren: true, runAt: 5 })],
      /flow child .*: /,
    );
  });

  it("applies an ack of a child then the cancel of its parent, as earlier versions wrote", () => {
    // `transaction` refuses this pair now (the cancel would cancel the child too), but a log
    // may hold it: replay must still apply it.
    const state = new State();
    const ids = new IdGenerator(null, 1);
    const [parent, child, sibling] = [ids.next(1_000), ids.next(1_000), ids.next(1_000)];
    apply(state, {
      tag: Tag.Transaction,
      ops: [
        job(parent, { waitsForChildren: true }),
        job(child, { flowParent: parent }),
        job(sibling, { flowParent: parent }),
      ],
    });
    apply(state, { tag: Tag.Claim, id: child, at: 2 });
    apply(state, {
      tag: Tag.Transaction,
      ops: [
        { tag: Tag.Ack, id: child, keep: true, at: 3, result: Buffer.from("r") },
        { tag: Tag.Cancel, id: parent, at: 3 },
        { tag: Tag.Cancel, id: sibling, at: 3 },
      ],
    } as QueueRecord);
    assert.equal(state.find(parent), -1);
    assert.equal(state.find(sibling), -1);
    assert.equal(state.statusOf(state.find(child)), Status.Done);
  });
});

/** `record` applied to a copy of what `setup` makes, plain and as a replay decodes it from its bytes. */
function appliedBothWays(setup: (state: State) => void, record: QueueRecord): [State, State] {
  const live = new State();
  setup(live);
  apply(live, record);
  const replayed = new State();
  setup(replayed);
  apply(replayed, decodeRecord(encodeRecord(record)));
  return [live, replayed];
}

describe("apply of a transaction's runs of enqueues", () => {
  it("keeps the newest id and the id index as enqueues applied one by one do, with ids out of order", () => {
    const ids = new IdGenerator(null, 1);
    const [a, b, c, d, e] = Array.from({ length: 5 }, () => ids.next(1_000));
    const setup = (state: State): void => apply(state, job(a!));
    // c and d are newer than every id; b, last, is not (they came first).
    const record: QueueRecord = { tag: Tag.Transaction, ops: [job(c!), job(d!), job(b!)] };
    const [live, replayed] = appliedBothWays(setup, record);
    const oneByOne = new State();
    setup(oneByOne);
    for (const id of [c!, d!, b!]) apply(oneByOne, job(id));
    for (const state of [live, replayed, oneByOne]) {
      for (const id of [a!, b!, c!, d!]) assert.notEqual(state.find(id), -1, id);
      // d is the newest id: an enqueue of it again would be a duplicate, one of e is new.
      assert.equal(state.isNewestId(state.idKeyIfUlid(d!)!, 0), false);
      assert.equal(state.isNewestId(state.idKeyIfUlid(e!)!, 0), true);
      assert.throws(() => apply(state, job(b!)), ApplyError);
      assert.equal(stateDigest(state), stateDigest(oneByOne));
    }
  });

  it("refuses an id enqueued twice, the newest, live and as a replay decodes it alike", () => {
    // A live enqueue compares its id as a string, a decoded one as bytes: with equal ids
    // neither may count the second as newer than the first.
    const ids = new IdGenerator(null, 1);
    const [a, w, x] = Array.from({ length: 3 }, () => ids.next(1_000));
    for (const run of [
      [x!, x!],
      [w!, x!, x!],
    ]) {
      const record: QueueRecord = { tag: Tag.Transaction, ops: run.map((id) => job(id)) };
      for (const form of [record, decodeRecord(encodeRecord(record))]) {
        const state = new State();
        apply(state, job(a!));
        const before = stateDigest(state);
        assert.throws(
          () => apply(state, form),
          (error: unknown) => error instanceof ApplyError && /job id .* twice/.test(error.message),
        );
        assert.equal(stateDigest(state), before);
      }
    }
  });

  it("adds a parent's children from each run of enqueues, and siblings' extras stay their own", () => {
    const ids = new IdGenerator(null, 1);
    const [other, parent, c1, c2, c3, c4] = Array.from({ length: 6 }, () => ids.next(1_000));
    const setup = (state: State): void => {
      apply(state, job(other!));
      apply(state, { tag: Tag.Claim, id: other!, at: 2 });
    };
    // An ack splits the flow's enqueues in two runs; children with other extras of their own.
    const record = {
      tag: Tag.Transaction,
      ops: [
        job(parent!, { waitsForChildren: true }),
        job(c1!, { flowParent: parent }),
        job(c2!, { flowParent: parent, jobId: "mine" }),
        { tag: Tag.Ack, id: other!, keep: false, at: 3 },
        job(c3!, { flowParent: parent, groupKey: "g" }),
        job(c4!, { flowParent: parent }),
      ],
    } as QueueRecord;
    const [live, replayed] = appliedBothWays(setup, record);
    assert.equal(stateDigest(replayed), stateDigest(live));
    for (const state of [live, replayed]) {
      const p = state.find(parent!);
      const flow = state.table.extras(p)!.flow!;
      assert.deepEqual(
        flow.children.map((child) => child.publicId),
        [c1!, "mine", c3!, c4!],
      );
      assert.equal(flow.waiting, 4);
      assert.equal(state.findPublic("mine"), state.find(c2!));
      assert.equal(state.table.extras(state.find(c3!))!.groupKey, "g");
      // c1 ends: its link goes, its siblings keep theirs.
      apply(state, { tag: Tag.Claim, id: c1!, at: 4 });
      apply(state, { tag: Tag.Ack, id: c1!, keep: true, at: 5 });
      assert.equal(state.table.extras(state.find(c1!))?.flowParent, undefined);
      for (const id of [c2!, c3!, c4!])
        assert.equal(state.table.extras(state.find(id))!.flowParent, parent, id);
      assert.equal(state.table.extras(p)!.flow!.waiting, 3);
      assert.equal(state.statusOf(p), Status.Scheduled);
    }
    assert.equal(stateDigest(replayed), stateDigest(live));
  });

  it("applies two transactions' flows in a row, each with its own parents' children", () => {
    const ids = new IdGenerator(null, 1);
    const state = new State();
    for (let round = 0; round < 3; round++) {
      const parent = ids.next(1_000 + round);
      const children = Array.from({ length: 5 }, () => ids.next(1_000 + round));
      apply(state, {
        tag: Tag.Transaction,
        ops: [
          job(parent, { waitsForChildren: true }),
          ...children.map((id) => job(id, { flowParent: parent })),
        ],
      });
      const flow = state.table.extras(state.find(parent))!.flow!;
      assert.deepEqual(
        flow.children.map((child) => child.id),
        children,
      );
      for (const id of children)
        assert.equal(state.table.extras(state.find(id))!.flowParent, parent);
    }
  });
});

/** The payload bytes of job `id` in `state`'s arena. */
function payloadIn(state: State, id: string): Buffer {
  const h = state.find(id);
  const page = state.table.read(h);
  const i = slot(h);
  const offset = page.payloadOffset[i]!;
  const bytes = state.arena.segment(page.payloadSegment[i]!);
  return Buffer.from(bytes.subarray(offset, offset + page.payloadLength[i]!));
}

describe("apply of a transaction's payloads", () => {
  it("writes payloads that lie side by side as one run, with the bytes each job had", () => {
    const ids = new IdGenerator(null, 1);
    const shared = new Uint8Array(64);
    for (let k = 0; k < shared.length; k++) shared[k] = k;
    // Side by side: 0..8, 8..20, 20..21; then empty, then 21..30 again side by side with the
    // run before the empty one, a copy elsewhere, and a view that goes back to 30..40.
    const views = [
      shared.subarray(0, 8),
      shared.subarray(8, 20),
      shared.subarray(20, 21),
      shared.subarray(21, 21),
      shared.subarray(21, 30),
      Uint8Array.from([7, 7, 7]),
      shared.subarray(30, 40),
      shared.subarray(30, 40),
    ];
    const jobIds = views.map(() => ids.next(1_000));
    const record: QueueRecord = {
      tag: Tag.Transaction,
      ops: views.map((payload, k) => job(jobIds[k]!, { payload })),
    };
    const [live, replayed] = appliedBothWays(() => {}, record);
    assert.equal(stateDigest(replayed), stateDigest(live));
    for (const state of [live, replayed]) {
      for (let k = 0; k < views.length; k++)
        assert.deepEqual(payloadIn(state, jobIds[k]!), Buffer.from(views[k]!), `job ${k}`);
      assert.equal(state.arena.liveBytes, 8 + 12 + 1 + 0 + 9 + 3 + 10 + 10);
      // Removing them releases every byte.
      for (const id of jobIds) apply(state, { tag: Tag.Cancel, id, at: 2 });
      assert.equal(state.arena.liveBytes, 0);
    }
  });
});
