import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { IdIndex } from "../../src/queue/id-index.js";
import { ID_BYTES, JobTable, slot } from "../../src/queue/table.js";

/** Writes id number `n` (its last four bytes) into row `h`. */
function writeId(table: JobTable, h: number, n: number): void {
  const page = table.write(h);
  page.status[slot(h)] = 0;
  const at = slot(h) * ID_BYTES;
  page.id.fill(0, at, at + ID_BYTES);
  new DataView(page.id.buffer, page.id.byteOffset).setUint32(at + 12, n);
}

function keyOf(n: number): Uint8Array {
  const key = new Uint8Array(ID_BYTES);
  new DataView(key.buffer).setUint32(12, n);
  return key;
}

/** An empty index over a new table, and `addNew()`, which adds the next id (1, 2, …) as new. */
function indexed() {
  const table = new JobTable();
  const ids = new IdIndex(table);
  /** Row of each id indexed (kept by the test as ids are removed and added). */
  const rowOf = new Map<number, number>();
  let next = 1;
  const addNew = (): void => {
    const h = table.allocate();
    writeId(table, h, next);
    ids.addNew(h);
    rowOf.set(next++, h);
  };
  return { table, ids, rowOf, addNew, next: () => next };
}

describe("id index: buffered removals", () => {
  it("finds nothing removed and everything kept, with rows reused before the removals are made", () => {
    const { table, ids, rowOf, addNew, next } = indexed();
    // 20,000 ids, then runs of removals, some of whose rows new ids (added as new: buffered
    // too) take at once, before any lookup.
    for (let k = 0; k < 20_000; k++) addNew();
    const removed = new Set<number>();
    for (let round = 0; round < 6; round++) {
      for (let k = 0; k < 3_001; k++) {
        const n = 1 + ((round * 7_919 + k * 13) % (next() - 1));
        if (removed.has(n)) continue;
        const h = rowOf.get(n)!;
        ids.remove(h);
        table.release(h);
        removed.add(n);
        rowOf.delete(n);
        if (k % 3 === 0) addNew();
      }
      assert.equal(ids.size, rowOf.size);
      for (let n = 1; n < next(); n++)
        assert.equal(ids.find(keyOf(n)), removed.has(n) ? -1 : rowOf.get(n)!, `id ${n}`);
    }
  });

  it("makes a full buffer and a sorted run of removals, with an id added back meanwhile", () => {
    const { table, ids, rowOf, addNew, next } = indexed();
    for (let k = 0; k < 40_000; k++) addNew();
    assert.equal(ids.find(keyOf(1)), rowOf.get(1));
    // 20,000 removals, no lookup or add between: one full buffer (16,384), then a sorted run (> 64).
    const removed: number[] = [];
    for (let n = 2; removed.length < 20_000; n += 2) {
      const h = rowOf.get(n)!;
      ids.remove(h);
      table.release(h);
      rowOf.delete(n);
      removed.push(n);
    }
    assert.equal(ids.size, rowOf.size);
    // An id added back (not as new) while its removal is buffered; its old row still holds its bytes.
    const back = removed.at(-2)!;
    const h = table.allocate();
    writeId(table, h, back);
    assert.equal(ids.add(h), true);
    rowOf.set(back, h);
    for (let k = 0; k < 5_000; k++) addNew(); // removed rows reused by buffered new ids
    assert.equal(ids.size, rowOf.size);
    for (let n = 1; n < next(); n++)
      assert.equal(ids.find(keyOf(n)), rowOf.get(n) ?? -1, `id ${n}`);
  });

  it("makes a removal before an add that takes the removed row", () => {
    const table = new JobTable();
    const ids = new IdIndex(table);
    const h = table.allocate();
    writeId(table, h, 1);
    assert.equal(ids.add(h), true);
    ids.remove(h);
    table.release(h);
    const again = table.allocate();
    assert.equal(again, h);
    writeId(table, again, 2);
    assert.equal(ids.add(again), true);
    assert.equal(ids.find(keyOf(1)), -1);
    assert.equal(ids.find(keyOf(2)), again);
    assert.equal(ids.size, 1);
  });
});
