import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { hashId, IdIndex } from "../../src/queue/id-index.js";
import { readIdBytes } from "../../src/queue/ids.js";
import { ID_BYTES, JobTable, slot } from "../../src/queue/table.js";

/** Writes id number `n` into `bytes[at..]`: its low 20 bits in the last four bytes, the rest in the four before. */
function putId(bytes: Uint8Array, at: number, n: number): void {
  bytes.fill(0, at, at + ID_BYTES);
  const high = Math.floor(n / 2 ** 20);
  const low = n % 2 ** 20;
  for (let i = 0; i < 4; i++) {
    bytes[at + 11 - i] = (high >>> (8 * i)) & 0xff;
    bytes[at + 15 - i] = (low >>> (8 * i)) & 0xff;
  }
}

/** Writes id number `n` into row `h`. */
function writeId(table: JobTable, h: number, n: number): void {
  const page = table.write(h);
  page.status[slot(h)] = 0;
  putId(page.id, slot(h) * ID_BYTES, n);
}

function keyOf(n: number): Uint8Array {
  const key = new Uint8Array(ID_BYTES);
  putId(key, 0, n);
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

describe("id index: an id added as new that is indexed already (a broken caller)", () => {
  it("is reported by its id when indexed, or when the first of the two is removed before", () => {
    const named = new RegExp(
      `job ${readIdBytes(keyOf(5), 0)} .*added as new but is indexed already`,
    );
    // Made: the first row's entry in the shard; waiting: the first row's add still buffered.
    for (const first of ["made", "waiting"]) {
      for (const then of ["settle", "remove the first"]) {
        const { table, ids, rowOf, addNew } = indexed();
        for (let k = 0; k < 20; k++) addNew();
        if (first === "made") ids.settle();
        const twin = table.allocate();
        writeId(table, twin, 5);
        ids.addNew(twin);
        const act = then === "settle" ? () => ids.settle() : () => ids.remove(rowOf.get(5)!);
        assert.throws(act, named, `${first}, then ${then}`);
      }
    }
  });
});

/** Counts the table's row reads (each costs a cache miss at a million jobs). */
function countReads(table: JobTable): { reads: number } {
  const counter = { reads: 0 };
  const read = table.read.bind(table);
  table.read = (h: number) => {
    counter.reads++;
    return read(h);
  };
  return counter;
}

describe("id index: buffers made a few slots per add or removal, never by a lookup", () => {
  it("a lookup with both buffers holding 10,000 entries reads a few rows, not the buffers", () => {
    const { table, ids, rowOf, addNew, next } = indexed();
    for (let k = 0; k < 40_000; k++) addNew();
    assert.equal(ids.find(keyOf(1)), rowOf.get(1));
    // Removals first, then new ids: both wait at the lookups below, the removals handed over
    // (the adds fill their buffer) and mostly not made. Their rows are kept, still holding the
    // removed ids, which the waiting removals must hide.
    for (let n = 2; n <= 20_000; n += 2) {
      ids.remove(rowOf.get(n)!);
      rowOf.delete(n);
    }
    for (let k = 0; k < 10_000; k++) addNew();
    const counter = countReads(table);
    let most = 0;
    for (let n = 1; n < next() + 100; n += 7) {
      const before = counter.reads;
      assert.equal(ids.find(keyOf(n)), rowOf.get(n) ?? -1, `id ${n}`);
      most = Math.max(most, counter.reads - before);
    }
    // One row per hash that matches (a removed id's row still holds its bytes): 1–2, never 10,000.
    assert.ok(most <= 3, `${most} rows read by one lookup`);
    assert.equal(ids.size, rowOf.size);
  });

  it("no add or removal makes more than a few buffered entries, through several hand-overs", () => {
    const { table, ids, rowOf, addNew, next } = indexed();
    const counter = countReads(table);
    let most = 0;
    let removed = 0;
    for (let k = 0; k < 120_000; k++) {
      const before = counter.reads;
      // Runs of 6,000 new ids, then of 3,000 removals.
      if (Math.floor(k / 3_000) % 3 === 2) {
        const n = 1 + ((k * 7_919) % (next() - 1));
        const h = rowOf.get(n);
        if (h === undefined) continue;
        ids.remove(h);
        table.release(h);
        rowOf.delete(n);
        removed++;
      } else addNew();
      // The test's own reads (writing the id) and the hash are 1–2; each entry made reads its row.
      most = Math.max(most, counter.reads - before);
    }
    assert.ok(removed > 25_000, `${removed} removals`);
    assert.ok(most <= 12, `${most} rows read by one add or removal`);
    assert.equal(ids.size, rowOf.size);
    for (let n = 1; n < next(); n += 3) assert.equal(ids.find(keyOf(n)), rowOf.get(n) ?? -1);
  });
});

/** Inverse of `x => x ^ (x >>> s)` on 32 bits. */
function unshift(y: number, s: number): number {
  let x = y;
  for (let i = 0; i <= 32 / s; i++) x = (y ^ (x >>> s)) >>> 0;
  return x;
}

/** Inverse of an odd 32-bit multiplier (Newton's iteration; an odd number is its own inverse to 3 bits). */
function inverse(c: number): number {
  let x = c;
  for (let i = 0; i < 5; i++) x = Math.imul(x, 2 - Math.imul(c, x));
  return x >>> 0;
}

/**
 * An id of the first 12 bytes of `head` whose hash is `target`: each step of
 * {@link hashId} is invertible, so its last word is solved for.
 */
function idWithHash(target: number, head: Uint8Array): Uint8Array {
  const key = new Uint8Array(ID_BYTES);
  key.set(head.subarray(0, 12));
  let h = 0x811c9dc5; // hashId's state after the first three words
  for (let i = 0; i < 12; i += 4) {
    const word = key[i]! | (key[i + 1]! << 8) | (key[i + 2]! << 16) | (key[i + 3]! << 24);
    h = Math.imul(h ^ word, 0x9e3779b1);
    h ^= h >>> 15;
  }
  // Undo the final mix, then the last word's step.
  let x = unshift(target, 16);
  x = unshift(Math.imul(x, inverse(0xc2b2ae35)) >>> 0, 13);
  x = unshift(Math.imul(x, inverse(0x85ebca6b)) >>> 0, 16);
  const word = (Math.imul(unshift(x, 15), inverse(0x9e3779b1)) ^ h) >>> 0;
  for (let i = 0; i < 4; i++) key[12 + i] = (word >>> (8 * i)) & 0xff;
  return key;
}

describe("id index against a Map, with buffers at every stage", () => {
  it("answers as the Map does through adds, new ids, removals, reused rows and equal hashes", () => {
    let seed = 11;
    const random = (n: number) => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed % n;
    };
    // Ids 1..3,000 (so ids come back), and for every fifth one ids with the same hash (one,
    // or two for every fiftieth), whose first bytes differ from every numbered id's.
    const keys: Uint8Array[] = [];
    for (let n = 1; n <= 3_000; n++) keys.push(keyOf(n));
    const sameHash: number[][] = [];
    for (let n = 1; n <= 3_000; n += 5) {
      const group = [n - 1];
      const hash = hashId(keys[n - 1]!, 0);
      for (let k = n % 50 === 1 ? 2 : 1; k > 0; k--) {
        const head = Uint8Array.from({ length: 12 }, () => 128 + random(128));
        const key = idWithHash(hash, head);
        assert.equal(hashId(key, 0), hash);
        group.push(keys.length);
        keys.push(key);
      }
      for (const i of group) sameHash[i] = group.filter((j) => j !== i);
    }
    const pool = keys.length;
    const table = new JobTable();
    const ids = new IdIndex(table);
    /** Row of each id indexed, by its number in {@link keys}. */
    const model = new Map<number, number>();
    const put = (i: number, asNew: boolean) => {
      const h = table.allocate();
      const page = table.write(h);
      page.status[slot(h)] = 0;
      page.id.set(keys[i]!, slot(h) * ID_BYTES);
      if (asNew) ids.addNew(h);
      else if (!ids.add(h)) {
        assert.ok(model.has(i), `id ${i} refused`);
        table.release(h);
        return;
      }
      assert.ok(!model.has(i), `id ${i} added twice`);
      model.set(i, h);
    };
    const drop = (i: number) => {
      const h = model.get(i)!;
      ids.remove(h);
      table.release(h);
      model.delete(i);
    };
    const checkAll = () => {
      assert.equal(ids.size, model.size);
      for (let i = 0; i < keys.length; i++)
        assert.equal(ids.find(keys[i]!), model.get(i) ?? -1, `id ${i}`);
    };
    // New ids (numbered above the rest) only ever added, so the shards grow.
    let fresh = 1_000_000;
    for (let k = 0; k < 150_000; k++) {
      const choice = random(100);
      const i = random(pool);
      if (choice < 30) put(i, false);
      else if (choice < 45 && !model.has(i)) put(i, true);
      else if (choice < 55) {
        keys.push(keyOf(fresh++));
        put(keys.length - 1, true);
      } else if (choice < 85 && model.has(i)) {
        drop(i);
        // The row just freed is the next taken: the id again, or one with the same hash.
        const again = random(3);
        const others = sameHash[i];
        if (again === 1) put(i, random(2) === 0);
        else if (again === 2 && others !== undefined) put(others[random(others.length)]!, false);
      } else if (choice === 99 && random(50) === 0) ids.settle();
      else assert.equal(ids.find(keys[i]!), model.get(i) ?? -1, `id ${i} at step ${k}`);
      if (k % 10_000 === 0) checkAll();
    }
    checkAll();
    ids.settle();
    assert.equal(ids.buffered, 0);
    checkAll();
  });
});
