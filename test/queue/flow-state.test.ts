import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { apply } from "../../src/queue/apply.js";
import { IdGenerator } from "../../src/queue/ids.js";
import { MAX_MESSAGE_BYTES } from "../../src/queue/limits.js";
import type { EnqueueRecord } from "../../src/queue/records/enqueue.js";
import { Tag } from "../../src/queue/records/tags.js";
import { SnapshotReader } from "../../src/queue/snapshot-decoder.js";
import { SnapshotWriter } from "../../src/queue/snapshot-encoder.js";
import { State, Status } from "../../src/queue/state.js";
import { auditState, stateDigest } from "../reliability/lib/audit.js";
import { enqueueRecord as job } from "./helpers.js";

/** A state holding one flow: a parent waiting for 500 pending children. */
function flowOf500(): { state: State; parent: string; children: string[] } {
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
  return { state, parent, children };
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
    const { state, parent, children } = flowOf500();
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

  it("removing a parent finds its children by the rows noted at the enqueue, not by a row another job took since", () => {
    const { state, parent, children } = flowOf500();
    const [first, second] = children as [string, string];
    const firstRow = state.find(first);
    apply(state, { tag: Tag.Claim, id: first, at: 2_000 });
    apply(state, { tag: Tag.Ack, id: first, keep: false, at: 2_500 });
    apply(state, { tag: Tag.Claim, id: second, at: 2_000 });
    apply(state, { tag: Tag.Dead, id: second, at: 3_000, reason: "failed" });
    // The acked child's row goes to the next job: the parent's note of it is now wrong.
    const other = new IdGenerator(null, 2).next(5_000);
    apply(state, job(other));
    assert.equal(state.find(other), firstRow);
    assert.equal(state.statusOf(state.find(parent)), Status.Dead);
    let probes = 0;
    const find = state.ids.find.bind(state.ids);
    state.ids.find = (key, at) => {
      probes++;
      return find(key, at);
    };
    apply(state, { tag: Tag.Remove, id: parent, at: 4_000 });
    state.ids.find = find;
    // The parent's own lookup: a child is looked at in its row (which holds it, or not any more).
    assert.equal(probes, 1);
    assert.equal(state.find(parent), -1);
    for (const id of children.slice(1))
      assert.equal(state.table.extras(state.find(id))?.flowParent, undefined, `${id} unlinked`);
    assert.equal(state.statusOf(state.find(other)), Status.Pending);
    assert.equal(state.table.extras(state.find(other)), undefined);
  });

  it("removing a parent parses none of its children's ids, and unlinks a later child that took an earlier one's row", () => {
    const { state, parent, children } = flowOf500();
    const [first] = children as [string];
    const firstRow = state.find(first);
    const ids = new IdGenerator(null, 2);
    const otherParent = ids.next(5_000);
    apply(state, {
      tag: Tag.Transaction,
      ops: [
        job(otherParent, { waitsForChildren: true }),
        job(ids.next(5_000), { flowParent: otherParent }),
      ],
    });
    apply(state, { tag: Tag.Remove, id: first, at: 6_000 });
    // The parent went dead with its removed child (its list still names the child).
    assert.equal(state.statusOf(state.find(parent)), Status.Dead);
    // A child added to the other flow takes the removed child's row.
    const otherChild = ids.next(7_000);
    apply(state, { tag: Tag.Transaction, ops: [job(otherChild, { flowParent: otherParent })] });
    assert.equal(state.find(otherChild), firstRow);
    const parsed: string[] = [];
    const idKey = state.idKeyIfUlid.bind(state);
    state.idKeyIfUlid = (id) => {
      parsed.push(id);
      return idKey(id);
    };
    apply(state, { tag: Tag.Remove, id: parent, at: 4_000 });
    state.idKeyIfUlid = idKey;
    assert.deepEqual(parsed, [parent]);
    for (const id of children.slice(1))
      assert.equal(state.table.extras(state.find(id))?.flowParent, undefined, `${id} unlinked`);
    // The job in the removed child's row names its own parent still.
    assert.equal(state.table.extras(firstRow)?.flowParent, otherParent);
  });

  it("removing a parent with no rows noted (decoded from a checkpoint, or given children twice) finds its children by id", () => {
    const decodedOf = (state: State): State => {
      const writer = new SnapshotWriter(state, 0);
      let encoded: Uint8Array | null = null;
      while (encoded === null) encoded = writer.step();
      const reader = new SnapshotReader(encoded);
      let decoded: State | null = null;
      while (decoded === null) decoded = reader.step();
      return decoded;
    };
    // A list decoded from a checkpoint has no rows: every child is found by its id.
    const { state, parent, children } = flowOf500();
    const decoded = decodedOf(state);
    apply(decoded, { tag: Tag.Remove, id: parent, at: 4_000 });
    assert.equal(decoded.find(parent), -1);
    for (const id of children)
      assert.equal(decoded.table.extras(decoded.find(id))?.flowParent, undefined, `${id} unlinked`);
    assert.deepEqual(auditState(decoded), []);
    // Children added in a second transaction: the first ones' rows are no longer noted.
    const second = flowOf500();
    const ids = new IdGenerator(null, 2);
    const later = Array.from({ length: 20 }, () => ids.next(5_000));
    apply(second.state, {
      tag: Tag.Transaction,
      ops: later.map((id) => job(id, { flowParent: second.parent })),
    });
    apply(second.state, { tag: Tag.Remove, id: second.parent, at: 6_000 });
    for (const id of [...second.children, ...later])
      assert.equal(
        second.state.table.extras(second.state.find(id))?.flowParent,
        undefined,
        `${id} unlinked`,
      );
    assert.deepEqual(auditState(second.state), []);
  });

  it("a child's end writes its parent's entry in place, not a copy of the list per child", () => {
    const { state, parent, children } = flowOf500();
    const lists = new Set<unknown>();
    for (const id of children) {
      apply(state, { tag: Tag.Claim, id, at: 2_000 });
      apply(state, { tag: Tag.Ack, id, keep: true, at: 3_000, result: Buffer.from(id) });
      lists.add(state.table.extras(state.find(parent))!.flow!.children);
    }
    assert.ok(lists.size <= 2, `${lists.size} lists of children for ${children.length} ends`);
    assert.equal(state.statusOf(state.find(parent)), Status.Pending);
  });

  it("a checkpoint cut before children end encodes them as they were at the cut", () => {
    const state = new State();
    const ids = new IdGenerator(null, 1);
    const parent = ids.next(1_000);
    const children = Array.from({ length: 300 }, () => ids.next(1_000));
    apply(state, {
      tag: Tag.Transaction,
      ops: [
        job(parent, { waitsForChildren: true }),
        ...children.map((id) => job(id, { flowParent: parent })),
      ],
    });
    const end = (id: string, i: number): void => {
      if (i % 3 === 2) apply(state, { tag: Tag.Remove, id, at: 3_000 });
      else {
        apply(state, { tag: Tag.Claim, id, at: 2_000 });
        apply(state, { tag: Tag.Ack, id, keep: true, at: 3_000, result: Buffer.from(id) });
      }
    };
    // Some children end before each cut (so the list is a writable one), more between its steps.
    let next = 0;
    for (let round = 0; round < 3; round++) {
      for (let k = 0; k < 50; k++, next++) end(children[next]!, next);
      const atCut = stateDigest(state);
      const writer = new SnapshotWriter(state, 0);
      let encoded: Uint8Array | null = null;
      for (let k = 0; encoded === null; k++) {
        if (k < 50 && next < children.length) end(children[next]!, next++);
        encoded = writer.step();
      }
      const reader = new SnapshotReader(encoded);
      let decoded: State | null = null;
      while (decoded === null) decoded = reader.step();
      assert.equal(stateDigest(decoded), atCut, `checkpoint ${round}`);
    }
  });

  it("a RequeueDead of a parent with a removed child, from an older log, still applies as written", () => {
    const state = new State();
    const ids = new IdGenerator(null, 1);
    const [parent, a, b] = [ids.next(1_000), ids.next(1_000), ids.next(1_000)];
    apply(state, {
      tag: Tag.Transaction,
      ops: [
        job(parent, { waitsForChildren: true }),
        job(a, { flowParent: parent }),
        job(b, { flowParent: parent }),
      ],
    });
    apply(state, { tag: Tag.Claim, id: a, at: 2_000 });
    apply(state, { tag: Tag.Dead, id: a, at: 3_000, reason: "boom" });
    apply(state, { tag: Tag.Remove, id: b, at: 4_000 });
    const flow = () => state.table.extras(state.find(parent))!.flow!;
    assert.deepEqual(
      flow().children.map((c) => c.removed === true),
      [false, true],
    );
    assert.equal(state.table.extras(state.find(parent))?.lastError, `child ${b} was removed`);
    // Writers before the mark requeued such a flow; replaying their log must not fail.
    apply(state, { tag: Tag.RequeueDead, id: parent, at: 5_000 });
    assert.deepEqual(
      flow().children.map((c) => c.removed === true),
      [false, false],
    );
    apply(state, { tag: Tag.Claim, id: a, at: 6_000 });
    apply(state, { tag: Tag.Ack, id: a, keep: false, at: 7_000 });
    assert.equal(state.statusOf(state.find(parent)), Status.Pending);
  });
  it("a dead child's failure reaches each parent up the flow cut to MAX_MESSAGE_BYTES, not growing a level at a time", () => {
    const state = new State();
    const ids = new IdGenerator(null, 1);
    // A chain: chain[0] waits for chain[1], …, the last is the leaf.
    const chain = Array.from({ length: 50 }, () => ids.next(1_000));
    apply(state, {
      tag: Tag.Transaction,
      ops: chain.map((id, n) =>
        job(id, {
          ...(n === 0 ? {} : { flowParent: chain[n - 1] }),
          ...(n === chain.length - 1 ? {} : { waitsForChildren: true }),
        }),
      ),
    });
    const leaf = chain[chain.length - 1]!;
    apply(state, { tag: Tag.Claim, id: leaf, at: 2_000 });
    const reason = "é".repeat(MAX_MESSAGE_BYTES / 2);
    apply(state, { tag: Tag.Dead, id: leaf, at: 3_000, reason });
    for (const [n, id] of chain.slice(0, -1).entries()) {
      const h = state.find(id);
      assert.equal(state.statusOf(h), Status.Dead);
      const lastError = state.table.extras(h)!.lastError!;
      assert.ok(lastError.startsWith(`child ${chain[n + 1]} failed: `), lastError.slice(0, 80));
      assert.ok(
        Buffer.byteLength(lastError) <= MAX_MESSAGE_BYTES,
        `${Buffer.byteLength(lastError)} bytes`,
      );
      assert.ok(lastError.endsWith("…"));
    }
    assert.deepEqual(auditState(state), []);
  });
});
