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
import type { QueueRecord } from "../../src/queue/records/codec.js";
import { Tag } from "../../src/queue/records/tags.js";
import { State, Status } from "../../src/queue/state.js";
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
