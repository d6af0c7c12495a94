import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { apply } from "../../src/queue/apply.js";
import { IdGenerator } from "../../src/queue/ids.js";
import type { EnqueueRecord } from "../../src/queue/records/enqueue.js";
import { Tag } from "../../src/queue/records/tags.js";
import { State, Status } from "../../src/queue/state.js";

function job(id: string, extra: Partial<EnqueueRecord> = {}): EnqueueRecord {
  return {
    tag: Tag.Enqueue,
    id,
    queue: "q",
    payload: Buffer.from("x"),
    headers: undefined,
    priority: 0,
    maxAttempts: 3,
    enqueuedAt: 1,
    runAt: undefined,
    dedupKey: undefined,
    ...extra,
  };
}

describe("flow state", { timeout: 30_000 }, () => {
  it("a flow's children are added to their parent in one step per parent, not one copy of its list per child", () => {
    const state = new State();
    const ids = new IdGenerator(null, 1);
    const parent = ids.next(1_000);
    const middle = ids.next(1_000);
    const children = Array.from({ length: 500 }, () => ids.next(1_000));
    const grandchildren = Array.from({ length: 300 }, () => ids.next(1_000));
    const ops: EnqueueRecord[] = [
      job(parent, { waitsForChildren: true }),
      job(middle, { waitsForChildren: true, flowParent: parent }),
      ...grandchildren.map((id) => job(id, { flowParent: middle })),
      ...children.map((id) => job(id, { flowParent: parent })),
    ];
    // Count how often each parent's extras (which hold its list of children) are replaced.
    const table = state.table;
    const setExtras = table.setExtras.bind(table);
    const writes = new Map<string, number>();
    table.setExtras = (h, extras) => {
      const id = state.idOf(h);
      writes.set(id, (writes.get(id) ?? 0) + 1);
      setExtras(h, extras);
    };
    apply(state, { tag: Tag.Transaction, ops });
    assert.ok((writes.get(parent) ?? 0) <= 3, `parent written ${writes.get(parent)} times`);
    assert.ok((writes.get(middle) ?? 0) <= 4, `middle written ${writes.get(middle)} times`);
    const flowOf = (id: string) => state.table.extras(state.find(id))!.flow!;
    assert.deepEqual(
      flowOf(parent).children.map((c) => c.id),
      [middle, ...children],
    );
    assert.equal(flowOf(parent).waiting, 501);
    assert.deepEqual(
      flowOf(middle).children.map((c) => c.id),
      grandchildren,
    );
    assert.equal(flowOf(middle).waiting, 300);
    for (const id of grandchildren)
      assert.equal(state.table.extras(state.find(id))?.flowParent, middle);
  });

  it("requeueing a dead parent opens its dead children in one step, not one copy of its list per child", () => {
    const state = new State();
    const ids = new IdGenerator(null, 1);
    const parent = ids.next(1_000);
    const children = Array.from({ length: 500 }, () => ids.next(1_000));
    apply(state, {
      tag: Tag.Transaction,
      ops: [
        job(parent, { waitsForChildren: true }),
        ...children.map((id) => job(id, { flowParent: parent })),
      ],
    });
    for (const id of children) {
      apply(state, { tag: Tag.Claim, id, at: 2_000 });
      apply(state, { tag: Tag.Dead, id, at: 3_000, reason: "failed" });
    }
    assert.equal(state.statusOf(state.find(parent)), Status.Dead);
    const table = state.table;
    const setExtras = table.setExtras.bind(table);
    let parentWrites = 0;
    table.setExtras = (h, extras) => {
      if (state.idOf(h) === parent) parentWrites++;
      setExtras(h, extras);
    };
    apply(state, { tag: Tag.RequeueDead, id: parent, at: 4_000 });
    assert.ok(parentWrites <= 3, `parent written ${parentWrites} times`);
    assert.equal(state.table.extras(state.find(parent))!.flow!.waiting, 500);
    for (const id of children) assert.equal(state.statusOf(state.find(id)), Status.Pending);
  });
});
