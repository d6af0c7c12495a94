import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { ByteArena, SEGMENT_BYTES } from "../../src/queue/arena.js";
import { flattenChunks, HandleIndex } from "../../src/queue/handle-index.js";
import type { EncodedHistory } from "../../src/queue/history.js";
import { IdIndex } from "../../src/queue/id-index.js";
import {
  FREE,
  holdsNothing,
  ID_BYTES,
  type JobExtras,
  JobTable,
  PAGE_SLOTS,
  slot,
} from "../../src/queue/table.js";

/** Keys by handle, for an order over handles whose keys can repeat (ties broken by a sequence). */
class Keys {
  readonly key = new Map<number, number>();
  readonly seq = new Map<number, number>();
  #next = 0;
  set(h: number, key: number): void {
    this.key.set(h, key);
    this.seq.set(h, this.#next++);
  }
  readonly order = (a: number, b: number) =>
    this.key.get(a)! - this.key.get(b)! || this.seq.get(a)! - this.seq.get(b)!;
}

describe("handle index", { timeout: 60_000 }, () => {
  it("matches a sorted array through random inserts, deletes and shifts, with handles reused", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 9 }), fc.integer({ min: 0, max: 40 })), {
          maxLength: 3_000,
        }),
        (ops) => {
          const keys = new Keys();
          const index = new HandleIndex(keys.order);
          const members = new Set<number>();
          const free: number[] = [];
          let next = 0;
          for (const [op, key] of ops) {
            if (op < 6 || members.size === 0) {
              const h = free.pop() ?? next++;
              keys.set(h, key);
              index.insert(h);
              members.add(h);
            } else if (op < 8) {
              const h = [...members][key % members.size]!;
              assert.equal(index.delete(h), true);
              members.delete(h);
              free.push(h);
            } else {
              const h = index.shift();
              assert.ok(members.delete(h));
              free.push(h);
            }
          }
          const expected = [...members].sort(keys.order);
          assert.deepEqual(index.toArray(), expected);
          assert.equal(index.size, expected.length);
          assert.equal(index.min(), expected[0] ?? -1);
          assert.equal(index.problems(), null);
          for (const h of free) assert.equal(index.has(h), false);
        },
      ),
      { numRuns: 40 },
    );
  });

  it("deletes in index order find each handle where the last one was, without comparisons", () => {
    const keys = new Keys();
    let comparisons = 0;
    const counted = (a: number, b: number) => {
      comparisons++;
      return keys.order(a, b);
    };
    const handles = Array.from({ length: 10_000 }, (_, h) => {
      keys.set(h, 0);
      return h;
    });
    const index = HandleIndex.fromSorted(counted, handles);
    // A run from the middle (a flow's children among other jobs), then one from the start.
    index.delete(3_000);
    comparisons = 0;
    for (let h = 3_001; h < 7_000; h++) assert.equal(index.delete(h), true);
    assert.equal(comparisons, 0);
    index.delete(0);
    comparisons = 0;
    for (let h = 1; h < 3_000; h++) assert.equal(index.delete(h), true);
    assert.equal(comparisons, 0);
    assert.deepEqual(index.toArray(), handles.slice(7_000));
    assert.equal(index.problems(), null);
    // A stale position (the index changed since) is only a guess: the handle is searched for.
    keys.set(20_000, -1);
    index.insert(20_000);
    assert.equal(index.delete(7_500), true);
    assert.equal(index.delete(7_500), false);
    assert.equal(index.delete(20_000), true);
    assert.equal(index.delete(7_501), true);
    assert.equal(index.min(), 7_000);
    assert.equal(index.problems(), null);
  });

  it("matches a sorted array through runs of deletes in order mixed with inserts", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(
            fc.integer({ min: 0, max: 2 }),
            fc.integer({ min: 0, max: 40 }),
            fc.integer({ min: 1, max: 600 }),
          ),
          { maxLength: 200 },
        ),
        (ops) => {
          const keys = new Keys();
          const index = new HandleIndex(keys.order);
          const members = new Set<number>();
          let next = 0;
          for (const [op, key, count] of ops) {
            if (op < 2 || members.size === 0) {
              for (let k = 0; k < count; k++) {
                const h = next++;
                keys.set(h, key);
                index.insert(h);
                members.add(h);
              }
            } else {
              // A run of handles next to each other in the order, from any of them.
              const sorted = [...members].sort(keys.order);
              const from = key % sorted.length;
              for (const h of sorted.slice(from, from + count)) {
                assert.equal(index.delete(h), true);
                members.delete(h);
              }
            }
          }
          assert.deepEqual(index.toArray(), [...members].sort(keys.order));
          assert.equal(index.size, members.size);
          assert.equal(index.problems(), null);
        },
      ),
      { numRuns: 40 },
    );
  });

  it("keeps its handles in typed arrays, and a freeze reuses the view of a chunk unchanged since the last", () => {
    const keys = new Keys();
    const index = new HandleIndex(keys.order);
    for (let h = 0; h < 2_000; h++) {
      keys.set(h, h);
      index.insert(h);
    }
    const first = index.freeze();
    assert.ok(first.chunks.length > 1);
    // Off the JS heap: a million handles are no megabytes of arrays for young collections to copy.
    for (const chunk of first.chunks) assert.ok(chunk instanceof Uint32Array);
    index.thaw(first);
    keys.set(2_000, 2_000);
    index.insert(2_000);
    const second = index.freeze();
    assert.equal(second.chunks[0], first.chunks[0]);
    assert.notEqual(second.chunks.at(-1), first.chunks.at(-1));
    assert.deepEqual(flattenChunks(second.chunks), [...flattenChunks(first.chunks), 2_000]);
    index.thaw(second);
  });

  it("a frozen view keeps its order while the index changes, without copying it", () => {
    const keys = new Keys();
    const index = new HandleIndex(keys.order);
    for (let h = 0; h < 5_000; h++) {
      keys.set(h, h % 100);
      index.insert(h);
    }
    const before = index.toArray();
    const view = index.freeze();
    for (let h = 0; h < 5_000; h += 3) index.delete(h);
    for (let h = 5_000; h < 7_000; h++) {
      keys.set(h, h % 50);
      index.insert(h);
    }
    index.shift();
    assert.deepEqual(flattenChunks(view.chunks), before);
    assert.equal(view.size, before.length);
    index.thaw(view);
    keys.set(99_999, -1);
    index.insert(99_999);
    assert.equal(index.min(), 99_999);
    assert.equal(index.problems(), null);
  });

  it("seek finds the first handle past a bound, and next walks on from it", () => {
    const keys = new Keys();
    const handles = Array.from({ length: 2_000 }, (_, h) => {
      keys.set(h, h * 2);
      return h;
    });
    const index = HandleIndex.fromSorted(keys.order, handles);
    assert.equal(index.problems(), null);
    const position = index.seek((h) => keys.key.get(h)! <= 1_001);
    assert.equal(index.next(position), 501);
    assert.equal(index.next(position), 502);
    const end = index.seek(() => true);
    assert.equal(index.next(end), -1);
  });

  it("a sorted list appended in pieces of any size is the index fromSorted builds", () => {
    const keys = new Keys();
    const handles = Array.from({ length: 5_000 }, (_, h) => {
      keys.set(h, h);
      return h;
    });
    const whole = HandleIndex.fromSorted(keys.order, handles);
    const all = (index: HandleIndex) => {
      const out: number[] = [];
      const position = index.seek(() => false);
      for (let h = index.next(position); h !== -1; h = index.next(position)) out.push(h);
      return out;
    };
    for (const piece of [1, 7, 383, 384, 385, 4_096]) {
      const built = new HandleIndex(keys.order);
      for (let at = 0; at < handles.length; at += piece)
        built.appendSorted(handles, at, Math.min(handles.length, at + piece));
      assert.equal(built.problems(), null, `pieces of ${piece}`);
      assert.equal(built.size, whole.size);
      assert.deepEqual(all(built), all(whole));
      // The same chunks as fromSorted: the same inserts split them at the same places.
      for (const index of [built, whole]) for (let h = 0; h < 2_000; h += 5) index.delete(h);
      assert.deepEqual(all(built), all(whole));
      assert.equal(built.problems(), null);
      for (let h = 0; h < 2_000; h += 5) whole.insert(h);
    }
    const frozen = HandleIndex.fromSorted(keys.order, handles.slice(0, 10));
    const view = frozen.freeze();
    assert.throws(() => frozen.appendSorted([10_000]), /frozen/);
    frozen.thaw(view);
  });

  it("a view frozen after an append to a thawed index reads the appended handles", () => {
    const order = (a: number, b: number) => a - b;
    const index = HandleIndex.fromSorted(order, [1, 2, 3]);
    index.thaw(index.freeze());
    index.appendSorted([4, 5]);
    const view = index.freeze();
    assert.deepEqual(flattenChunks(view.chunks), [1, 2, 3, 4, 5]);
    assert.equal(view.size, 5);
    index.thaw(view);
  });

  it("refuses a handle a Uint32Array cannot hold instead of wrapping it", () => {
    const order = (a: number, b: number) => a - b;
    const index = HandleIndex.fromSorted(order, [1, 2, 3]);
    for (const bad of [-1, 2 ** 32 + 3, 1.5])
      assert.throws(() => index.insert(bad), /Expected `handle` to be an integer in \[0, 2\^32\)/);
    index.insert(2 ** 32 - 1);
    assert.deepEqual(index.toArray(), [1, 2, 3, 2 ** 32 - 1]);
    assert.equal(index.problems(), null);
  });

  it("a copy puts its chunks in a few shared buffers, and copy and original then change apart", () => {
    const order = (a: number, b: number) => a - b;
    const handles = Array.from({ length: 5_000 }, (_, h) => h * 2);
    const original = HandleIndex.fromSorted(order, handles);
    const copy = original.copy();
    const view = copy.freeze();
    assert.ok(view.chunks.length > 10);
    const buffers = new Set(view.chunks.map((chunk) => (chunk as Uint32Array).buffer));
    assert.ok(buffers.size < view.chunks.length / 10, `${buffers.size} buffers`);
    copy.thaw(view);
    const model = new Set(handles);
    // Grow, delete and split the copy's chunks (each leaves the shared buffer as it grows).
    for (let h = 1; h < 10_000; h += 4) {
      copy.insert(h);
      model.add(h);
    }
    for (let h = 0; h < 10_000; h += 8) {
      copy.delete(h);
      model.delete(h);
    }
    for (let h = 10_001; h < 11_000; h += 2) {
      copy.insert(h);
      model.add(h);
    }
    assert.equal(copy.problems(), null);
    assert.deepEqual(
      copy.toArray(),
      [...model].sort((a, b) => a - b),
    );
    assert.deepEqual(original.toArray(), handles);
    original.insert(3);
    assert.equal(copy.has(3), false);
    assert.equal(original.problems(), null);
  });
});

describe("id index", { timeout: 60_000 }, () => {
  it("finds exactly the ids added and not removed, through growth and backward-shift deletion", () => {
    const table = new JobTable();
    const ids = new IdIndex(table);
    const reference = new Map<string, number>();
    let seed = 7;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed;
    };
    const key = new Uint8Array(ID_BYTES);
    const idOf = (h: number) =>
      Buffer.from(table.read(h).id.subarray(slot(h) * ID_BYTES, (slot(h) + 1) * ID_BYTES)).toString(
        "hex",
      );
    for (let round = 0; round < 40_000; round++) {
      if (reference.size === 0 || random() % 3 !== 0) {
        const h = table.allocate();
        const page = table.write(h);
        page.status[slot(h)] = 0;
        // Ids alike but for a few bytes, as consecutive ids are.
        for (let i = 0; i < ID_BYTES; i++)
          page.id[slot(h) * ID_BYTES + i] = i < 12 ? 1 : random() & 3;
        const id = idOf(h);
        if (reference.has(id)) {
          assert.equal(ids.add(h), false);
          table.release(h);
        } else {
          assert.equal(ids.add(h), true);
          reference.set(id, h);
        }
      } else {
        const [id, h] = [...reference.entries()][random() % reference.size]!;
        ids.remove(h);
        table.release(h);
        reference.delete(id);
      }
    }
    assert.equal(ids.size, reference.size);
    for (const [id, h] of reference) {
      key.set(Buffer.from(id, "hex"));
      assert.equal(ids.find(key), h);
    }
    key.fill(9);
    assert.equal(ids.find(key), -1);
  });
  it("ids added as new are found, removed and re-added across buffered flushes", () => {
    const table = new JobTable();
    const ids = new IdIndex(table);
    const key = new Uint8Array(ID_BYTES);
    const write = (h: number, n: number) => {
      const page = table.write(h);
      page.status[slot(h)] = 0;
      const at = slot(h) * ID_BYTES;
      page.id.fill(0, at, at + ID_BYTES);
      new DataView(page.id.buffer, page.id.byteOffset).setUint32(at + 12, n);
    };
    const live = new Map<number, number>();
    // 30,000 increasing ids: more than one buffer's worth, with lookups and removals between.
    for (let n = 1; n <= 30_000; n++) {
      const h = table.allocate();
      write(h, n);
      ids.addNew(h);
      live.set(n, h);
      if (n % 7_001 === 0) {
        key.fill(0);
        new DataView(key.buffer).setUint32(12, n - 3);
        assert.equal(ids.find(key), live.get(n - 3) ?? -1);
      }
      if (n % 5 === 0) {
        const gone = live.get(n - 2)!;
        ids.remove(gone);
        table.release(gone);
        live.delete(n - 2);
      }
    }
    assert.equal(ids.size, live.size);
    for (const [n, h] of live) {
      key.fill(0);
      new DataView(key.buffer).setUint32(12, n);
      assert.equal(ids.find(key), h);
    }
    // An id added as new that is indexed already is a broken caller: it fails loudly.
    const again = table.allocate();
    write(again, 1);
    ids.addNew(again);
    assert.throws(() => ids.settle(), /added as new but is indexed already/);
  });

  it("the bulk loader indexes restored rows in bounded steps and reports a repeated id", () => {
    for (const repeat of [false, true]) {
      const table = new JobTable();
      const ids = new IdIndex(table);
      const rows = 20_000;
      for (let n = 0; n < rows; n++) {
        const h = table.allocate();
        const page = table.write(h);
        page.status[slot(h)] = 0;
        const at = slot(h) * ID_BYTES;
        new DataView(page.id.buffer, page.id.byteOffset).setUint32(
          at + 8,
          (repeat && n === rows - 1 ? 5 : n) * 2_654_435_761,
        );
      }
      const loader = ids.loader(rows);
      let steps = 0;
      const duplicate = (h: number) => new Error(`row ${h} repeats an id`);
      if (repeat) {
        assert.throws(() => {
          while (!loader.step(() => true, duplicate)) steps++;
        }, /row 19999 repeats an id/);
        continue;
      }
      while (!loader.step(() => true, duplicate)) steps++;
      assert.ok(steps > 2, `${steps} steps`);
      assert.equal(ids.size, rows);
      for (let h = 0; h < rows; h += 97)
        assert.equal(ids.find(table.read(h).id, slot(h) * ID_BYTES), h);
    }
  });
});

describe("id index loader: room made in steps", { timeout: 60_000 }, () => {
  it("sizes the index for a million ids a few shards per step, not in one", () => {
    const table = new JobTable();
    const ids = new IdIndex(table);
    const loader = ids.loader(0, 1_000_000);
    let steps = 1;
    while (
      !loader.step(
        () => true,
        (h) => new Error(`row ${h}`),
      )
    )
      steps++;
    // 16 MiB of shards in one step took 8–22 ms; 16 shards (1 MiB) per step here.
    assert.ok(steps >= 16, `${steps} steps`);
    // The room is there: a million new ids never grow a shard (which would cost far more).
    for (let n = 0; n < 1_000; n++) {
      const h = table.allocate();
      new DataView(table.write(h).id.buffer, table.write(h).id.byteOffset).setUint32(
        slot(h) * ID_BYTES + 8,
        n * 2_654_435_761,
      );
      ids.addNew(h);
    }
    assert.equal(ids.size, 1_000);
    assert.equal(ids.find(table.read(7).id, slot(7) * ID_BYTES), 7);
  });
});

describe("job table and arena", { timeout: 60_000 }, () => {
  it("a write to a frozen page copies it first; the view keeps the original", () => {
    const table = new JobTable();
    const handles = Array.from({ length: PAGE_SLOTS + 10 }, () => table.allocate());
    for (const h of handles) table.write(h).status[slot(h)] = 1;
    table.setExtras(handles[3]!, { lastError: "before" });
    const view = table.freeze();
    table.write(handles[3]!).at[slot(handles[3]!)] = 42;
    table.setExtras(handles[3]!, { lastError: "after" });
    table.release(handles[PAGE_SLOTS + 1]!);
    assert.equal(view.pages[0]!.at[3], 0);
    assert.equal(view.pages[0]!.extras?.[3]?.lastError, "before");
    assert.equal(view.pages[1]!.status[1], 1);
    assert.equal(table.read(handles[3]!).at[3], 42);
    assert.equal(table.extras(handles[3]!)?.lastError, "after");
    assert.equal(table.read(handles[PAGE_SLOTS + 1]!).status[1], FREE);
    table.thaw(view);
    const page = table.read(0);
    table.write(0);
    assert.equal(table.read(0), page, "no copies once no view is open");
    assert.equal(table.rows, PAGE_SLOTS + 9);
    assert.equal(table.allocate(), handles[PAGE_SLOTS + 1], "freed rows are reused");
  });

  it("the arena counts live bytes and drops a segment once nothing uses it", () => {
    const arena = new ByteArena();
    const small = new Uint8Array(1_000).fill(7);
    const placed: Array<[number, number]> = [];
    for (let i = 0; i < (2 * SEGMENT_BYTES) / 1_000; i++)
      placed.push([arena.write(small), arena.offset]);
    const big = new Uint8Array(SEGMENT_BYTES / 2).fill(9);
    const bigSegment = arena.write(big);
    assert.equal(arena.liveBytes, placed.length * 1_000 + big.length);
    const held = arena.heldBytes;
    const first = placed[0]![0];
    assert.deepEqual(
      arena.segment(first).subarray(placed[5]![1], placed[5]![1] + 3),
      new Uint8Array([7, 7, 7]),
    );
    const view = arena.view();
    for (const [segment] of placed.filter(([s]) => s === first)) arena.release(segment, 1_000);
    assert.equal(arena.heldBytes, held - SEGMENT_BYTES, "the first segment was dropped");
    assert.ok(view[first] !== null, "a view keeps reading a dropped segment");
    arena.release(bigSegment, big.length);
    assert.equal(arena.heldBytes, held - SEGMENT_BYTES - big.length);
    assert.equal(arena.write(new Uint8Array(0)), 0);
  });
});

describe("job extras that hold nothing", () => {
  it("counts every field of JobExtras as a value, but a flow child's link when asked to", () => {
    // One value for each field: the type makes a field added to JobExtras fail to compile here
    // until it has one, and then this test until `holdsNothing` looks at it (a field it missed
    // would be erased with a flow child's link).
    const sample: { readonly [K in keyof JobExtras]-?: NonNullable<JobExtras[K]> } = {
      headers: { h: "v" },
      lastError: "e",
      dedupKey: "d",
      jobId: "j",
      result: new Uint8Array(0),
      history: "" as EncodedHistory,
      timeoutMs: 0,
      payloadRef: { key: "k", size: 0 },
      flowParent: "p",
      flow: { waiting: 0, children: [] },
      groupKey: "g",
      progress: "0",
    };
    assert.equal(holdsNothing({}, false), true);
    assert.equal(holdsNothing({}, true), true);
    for (const key of Object.keys(sample) as (keyof JobExtras)[]) {
      const extras: JobExtras = { [key]: sample[key] };
      assert.equal(holdsNothing(extras, false), false, key);
      assert.equal(holdsNothing(extras, true), key === "flowParent", key);
    }
  });
});
