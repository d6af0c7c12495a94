import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ManualClock } from "../../src/clock.js";
import { CorruptionError } from "../../src/errors.js";
import { openLog, readLog } from "../../src/log/index.js";
import { MemoryStore } from "../../src/store/memory.js";
import { keysUnder, rec, rejection, testOptions } from "./helpers.js";

const WAL_1 = "q/wal/00000000000000000001";

/** A new log (so no fence) with two batches (wal 1, 2) and, optionally, a checkpoint. */
async function seeded(withCheckpoint = false): Promise<MemoryStore> {
  const store = new MemoryStore();
  const { log } = await openLog(store, "q", testOptions());
  await log.append([rec("first"), rec("second")]);
  await log.append(rec("third"));
  if (withCheckpoint) {
    log.setSnapshotSource(() => rec("snapshot"));
    await log.checkpoint();
  }
  return store;
}

async function mutate(
  store: MemoryStore,
  key: string,
  change: (body: Uint8Array) => Uint8Array,
): Promise<void> {
  const object = await store.get(key);
  assert.ok(object, `${key} exists`);
  await store.put(key, change(object.body));
}

async function expectCorruption(store: MemoryStore, key: string): Promise<void> {
  const error = await rejection(openLog(store, "q", testOptions()));
  assert.equal(error.code, "CORRUPTION", error.message);
  assert.ok(error instanceof CorruptionError);
  assert.equal(error.objectKey, key);
  assert.match(error.message, new RegExp(key));
}

async function onlyCheckpointKey(store: MemoryStore): Promise<string> {
  const keys = await keysUnder(store, "q/checkpoint/");
  assert.equal(keys.length, 1);
  return keys[0]!;
}

function flipBit(at: (body: Uint8Array) => number): (body: Uint8Array) => Uint8Array {
  return (body) => {
    const copy = Uint8Array.from(body);
    const index = at(copy);
    copy[index] = copy[index]! ^ 0x10;
    return copy;
  };
}

describe("log corruption is reported, never skipped", { timeout: 60_000 }, () => {
  it("rejects a WAL batch with a flipped bit in a record", async () => {
    const store = await seeded();
    await mutate(
      store,
      WAL_1,
      flipBit((b) => b.length - 6),
    );
    await expectCorruption(store, WAL_1);
  });

  it("rejects a WAL batch with a flipped bit in its header", async () => {
    const store = await seeded();
    await mutate(
      store,
      WAL_1,
      flipBit(() => 20),
    );
    await expectCorruption(store, WAL_1);
  });

  it("rejects a truncated WAL batch", async () => {
    const store = await seeded();
    await mutate(store, WAL_1, (b) => b.slice(0, b.length - 7));
    await expectCorruption(store, WAL_1);
  });

  it("rejects a WAL batch stored under another slot's name", async () => {
    const store = await seeded();
    const second = await store.get("q/wal/00000000000000000002");
    await mutate(store, WAL_1, () => second!.body);
    await expectCorruption(store, WAL_1);
  });

  it("rejects a gap in the WAL after the checkpoint", async () => {
    const store = await seeded();
    await store.delete(WAL_1);
    // Batch 2 was sealed after batch 1 was acknowledged: not a crashed writer's tail.
    await expectCorruption(store, WAL_1);
    const error = await rejection(readLog(store, "q"));
    assert.equal((error as CorruptionError).objectKey, WAL_1);
  });

  it("rejects a gap wider than any writer's window of writes in flight", async () => {
    const store = new MemoryStore();
    const { log } = await openLog(store, "q", testOptions());
    await log.append(rec("first"));
    const stray = await store.get("q/wal/00000000000000000001");
    await store.put("q/wal/00000000000000000010", stray!.body);
    await expectCorruption(store, "q/wal/00000000000000000002");
  });

  it("rejects a corrupted, a truncated and a zero-length manifest", async () => {
    for (const change of [
      flipBit(() => 12),
      (b: Uint8Array) => b.slice(0, b.length - 3),
      () => new Uint8Array(0),
    ]) {
      const store = await seeded();
      const key = "q/manifest/00000000000000000001";
      await mutate(store, key, change);
      await expectCorruption(store, key);
    }
  });

  it("rejects a corrupted, a truncated and a zero-length checkpoint", async () => {
    for (const change of [
      flipBit((b) => b.length - 2),
      (b: Uint8Array) => b.slice(0, b.length - 1),
      () => new Uint8Array(0),
    ]) {
      const store = await seeded(true);
      const key = await onlyCheckpointKey(store);
      await mutate(store, key, change);
      await expectCorruption(store, key);
    }
  });

  it("rejects a missing checkpoint that the manifest references", async () => {
    const store = await seeded(true);
    const key = await onlyCheckpointKey(store);
    await store.delete(key);
    await expectCorruption(store, key);
  });

  it("reports corruption to read-only readers too", async () => {
    const store = await seeded();
    await mutate(
      store,
      WAL_1,
      flipBit((b) => b.length - 6),
    );
    const error = await rejection(readLog(store, "q"));
    assert.equal(error.code, "CORRUPTION");
    assert.equal((error as CorruptionError).objectKey, WAL_1);
  });
});

/** Every object in the store and its bytes: equal before and after means nothing was written or deleted. */
async function contents(store: MemoryStore): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const key of await keysUnder(store, "")) {
    const object = await store.get(key);
    out.set(key, object === null ? "gone" : Buffer.from(object.body).toString("hex"));
  }
  return out;
}

describe('a damaged newest manifest under recoverCorruption "skip"', () => {
  for (const manifestHistory of [undefined, 0]) {
    it(`fails like a plain open, naming it, and changes nothing (manifestHistory ${manifestHistory ?? "default"})`, async () => {
      // gcMinAgeMs 0 stands for collecting more than its default age later.
      const options = testOptions({
        gcMinAgeMs: 0,
        ...(manifestHistory === undefined ? {} : { manifestHistory }),
      });
      const store = new MemoryStore();
      const { log } = await openLog(store, "q", options);
      for (const text of ["one", "two", "three"]) {
        await log.append(rec(text));
        log.setSnapshotSource(() => rec(`state after ${text}`));
        await log.checkpoint();
        await log.collectGarbage();
      }
      // No close: the writer crashed. Its newest manifest names the only state with "three".
      const newest = (await keysUnder(store, "q/manifest/")).at(-1)!;
      await mutate(
        store,
        newest,
        flipBit(() => 12),
      );
      const before = await contents(store);
      for (const recoverCorruption of ["skip", "fail"] as const) {
        const error = await rejection(openLog(store, "q", { ...options, recoverCorruption }));
        assert.ok(error instanceof CorruptionError, `${recoverCorruption}: ${error.message}`);
        assert.equal(error.objectKey, newest);
      }
      assert.deepEqual(
        await contents(store),
        before,
        "the failed opens wrote or deleted an object",
      );
    });
  }
});

describe("garbage collection reads past a damaged older manifest", () => {
  it("still collects the WAL its own manifest covers", async () => {
    const store = new MemoryStore();
    const { log } = await openLog(store, "q", testOptions({ gcMinAgeMs: 0 }));
    await log.append(rec("first"));
    log.setSnapshotSource(() => rec("snapshot"));
    await log.checkpoint();
    const older = (await keysUnder(store, "q/manifest/")).at(-1)!;
    await log.append(rec("second"));
    await log.checkpoint();
    await mutate(
      store,
      older,
      flipBit(() => 12),
    );
    await log.collectGarbage();
    const wal = await keysUnder(store, "q/wal/");
    assert.ok(!wal.includes(WAL_1), `the checkpoint's WAL was collected: ${wal.join(", ")}`);
    await log.close();
  });
});

describe("an earlier writer's expired manifests", () => {
  it("are read (not cached here), a damaged one among them, and collected with the WAL they cover", async () => {
    const clock = new ManualClock();
    const store = new MemoryStore();
    const options = testOptions({
      clock,
      flushIntervalMs: 0,
      gcMinAgeMs: 60_000,
      manifestHistory: 2,
    });
    const first = await openLog(store, "q", options);
    first.log.setSnapshotSource(() => rec("snapshot"));
    for (let i = 0; i < 6; i++) {
      await first.log.append(rec(`r${i}`));
      await first.log.checkpoint(); // everything is too young to collect
      clock.advance(1_000);
    }
    await first.log.close();
    const damaged = (await keysUnder(store, "q/manifest/"))[2]!;
    await mutate(
      store,
      damaged,
      flipBit(() => 12),
    );
    const walBefore = await keysUnder(store, "q/wal/");

    const second = await openLog(store, "q", options);
    second.log.setSnapshotSource(() => rec("snapshot"));
    clock.advance(120_000);
    await second.log.append(rec("later"));
    await second.log.checkpoint();
    const manifests = await keysUnder(store, "q/manifest/");
    assert.equal(manifests.length, 3, manifests.join(", "));
    assert.ok(!manifests.includes(damaged));
    const wal = new Set(await keysUnder(store, "q/wal/"));
    assert.ok(
      walBefore.every((key) => !wal.has(key)),
      `the first writer's WAL was collected: ${[...wal].join(", ")}`,
    );
    await second.log.close();
  });
});

describe('lostRecords under recoverCorruption "skip"', () => {
  /** A crashed log of four batches: wal 1 (2 records), 2 (3), 3 (1), 4 (4). */
  async function fourBatches(): Promise<MemoryStore> {
    const store = new MemoryStore();
    const { log } = await openLog(store, "q", testOptions());
    await log.append([rec("a1"), rec("a2")]);
    await log.append([rec("b1"), rec("b2"), rec("b3")]);
    await log.append(rec("c1"));
    await log.append([rec("d1"), rec("d2"), rec("d3"), rec("d4")]);
    return store;
  }
  const wal = (id: number) => `q/wal/${String(id).padStart(20, "0")}`;
  const skip = testOptions({ recoverCorruption: "skip" });

  it("counts the records of a damaged batch whose header still reads, at the break and after it", async () => {
    const store = await fourBatches();
    // A flipped bit in a record of batch 2 (the break) and of batch 4 (after it).
    for (const id of [2, 4])
      await mutate(
        store,
        wal(id),
        flipBit((b) => b.length - 6),
      );
    const { recovery, records } = await openLog(store, "q", skip);
    assert.ok(recovery);
    assert.deepEqual(
      records.map((r) => new TextDecoder().decode(r)),
      ["a1", "a2"],
    );
    assert.deepEqual(
      recovery.damaged.map(({ key, records }) => ({ key, records })),
      [
        { key: wal(2), records: 3 },
        { key: wal(4), records: 4 },
      ],
    );
    assert.deepEqual(recovery.skipped, [{ key: wal(3), records: 1 }]);
    assert.equal(recovery.lostRecords, 3 + 1 + 4);
  });

  it("counts a batch cut short after its header by its header", async () => {
    const store = await fourBatches();
    await mutate(store, wal(2), (body) => body.subarray(0, body.length - 3));
    const { recovery } = await openLog(store, "q", skip);
    assert.deepEqual(recovery?.damaged[0]?.records, 3);
    assert.equal(recovery?.lostRecords, 3 + 1 + 4);
  });

  it("counts nothing for a missing batch, one whose header is damaged, or an emptied one", async () => {
    for (const damage of [
      flipBit(() => 1), // the magic
      flipBit(() => 12), // the slot it names
      () => new Uint8Array(0),
      (body: Uint8Array) => body.subarray(0, 20), // shorter than a header
    ]) {
      const store = await fourBatches();
      await mutate(store, wal(2), damage);
      const { recovery } = await openLog(store, "q", skip);
      assert.ok(recovery);
      assert.deepEqual(
        recovery.damaged.map((d) => d.key),
        [wal(2)],
      );
      assert.equal(recovery.damaged[0]!.records, undefined);
      assert.equal("records" in recovery.damaged[0]!, false);
      assert.equal(recovery.lostRecords, 1 + 4);
    }
    const store = await fourBatches();
    await store.delete(wal(2));
    const { recovery } = await openLog(store, "q", skip);
    assert.deepEqual(recovery?.damaged, [{ key: wal(2), reason: "WAL batch is missing" }]);
    assert.equal(recovery?.lostRecords, 1 + 4);
  });

  it("does not believe a damaged count larger than the batch could hold", async () => {
    const store = await fourBatches();
    // The count is the last u32 of the (version 2) header, 50 bytes in: set its top bit.
    await mutate(store, wal(2), (body) => {
      const copy = Uint8Array.from(body);
      copy[46] = copy[46]! | 0x80;
      return copy;
    });
    const { recovery } = await openLog(store, "q", skip);
    assert.equal(recovery?.damaged[0]?.records, undefined);
    assert.equal(recovery?.lostRecords, 1 + 4);
  });
});
