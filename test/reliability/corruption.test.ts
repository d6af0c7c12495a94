import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { CorruptionError } from "../../src/errors.js";
import { isFenceSize } from "../../src/log/codec.js";
import { silentLogger } from "../../src/logger.js";
import type { OpenOptions } from "../../src/queue/options.js";
import { Queue } from "../../src/queue/queue.js";
import { FileStore } from "../../src/store/file.js";
import { MemoryStore } from "../../src/store/memory.js";
import { listAll } from "../../src/store/types.js";
import { liveState, stateDigest } from "./lib/audit.js";

const dirs: string[] = [];
after(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

const QUIET: OpenOptions = { logger: silentLogger, flushIntervalMs: 0 };
const SKIP: OpenOptions = { ...QUIET, log: { logger: silentLogger, recoverCorruption: "skip" } };

interface Seeded {
  store: FileStore;
  /** Ids enqueued before the checkpoint (3) and after it, one WAL batch each (5). */
  before: string[];
  afterIds: string[];
  /** Keys of the 5 WAL batches after the checkpoint, in order. */
  batches: string[];
  checkpoint: string;
}

/** A store with a checkpoint (3 jobs) and five one-job WAL batches after it; its writer "crashed". */
async function seeded(): Promise<Seeded> {
  const dir = await mkdtemp(join(tmpdir(), "taquba-corrupt-"));
  dirs.push(dir);
  const store = new FileStore(dir, { fsync: false });
  const first = await Queue.open(store, "q", QUIET);
  const before = [];
  for (let i = 0; i < 3; i++) before.push(await first.enqueue("jobs", `before ${i}`));
  await first.close(); // writes the checkpoint
  const second = await Queue.open(store, "q", QUIET);
  const afterIds = [];
  for (let i = 0; i < 5; i++) afterIds.push(await second.enqueue("jobs", `after ${i}`));
  // No close: the next open replays these batches from the WAL.
  const batches = (await listAll(store, "q/wal/")).filter((o) => o.size > 0).map((o) => o.key);
  const checkpoints = await listAll(store, "q/checkpoint/");
  assert.equal(checkpoints.length, 1);
  return { store, before, afterIds, batches: batches.slice(-5), checkpoint: checkpoints[0]!.key };
}

async function expectCorruption(s: Seeded, key: string): Promise<void> {
  await assert.rejects(Queue.open(s.store, "q", QUIET), (error: unknown) => {
    assert.ok(error instanceof CorruptionError, `expected CorruptionError, got ${String(error)}`);
    assert.equal(error.code, "CORRUPTION");
    assert.equal(error.objectKey, key);
    assert.ok(error.message.includes(key), error.message);
    return true;
  });
}

async function rewrite(
  s: Seeded,
  key: string,
  change: (body: Uint8Array) => Uint8Array,
): Promise<void> {
  const object = await s.store.get(key);
  assert.ok(object, `${key} exists`);
  await s.store.put(key, change(Uint8Array.from(object.body)));
}

function flipByte(at: (length: number) => number): (body: Uint8Array) => Uint8Array {
  return (body) => {
    const index = at(body.byteLength);
    body[index] = body[index]! ^ 0x01;
    return body;
  };
}

const cut = (bytes: number) => (body: Uint8Array) =>
  body.subarray(0, Math.max(0, body.byteLength - bytes));
const empty = () => new Uint8Array(0);

describe("corruption: open refuses damaged stores, naming the object", { timeout: 180_000 }, () => {
  it("a truncated WAL batch", async () => {
    const s = await seeded();
    await rewrite(s, s.batches[2]!, cut(3));
    await expectCorruption(s, s.batches[2]!);
  });

  it("a bit-flipped WAL batch, in a record and in the header", async () => {
    for (const at of [(n: number) => n - 8, () => 5]) {
      const s = await seeded();
      await rewrite(s, s.batches[1]!, flipByte(at));
      await expectCorruption(s, s.batches[1]!);
    }
  });

  it("a bit-flipped, truncated and zero-length checkpoint", async () => {
    for (const damage of [flipByte((n) => n - 1), cut(1), empty]) {
      const s = await seeded();
      await rewrite(s, s.checkpoint, damage);
      await expectCorruption(s, s.checkpoint);
    }
  });

  it("a missing checkpoint that the manifest references", async () => {
    const s = await seeded();
    await s.store.delete(s.checkpoint);
    await expectCorruption(s, s.checkpoint);
  });

  it("a gap in the WAL", async () => {
    const s = await seeded();
    await s.store.delete(s.batches[2]!);
    await expectCorruption(s, s.batches[2]!);
  });

  it("a zero-length and a damaged newest manifest", async () => {
    for (const damage of [empty, flipByte(() => 10)]) {
      const s = await seeded();
      const newest = (await listAll(s.store, "q/manifest/")).at(-1)!.key;
      await rewrite(s, newest, damage);
      await expectCorruption(s, newest);
    }
  });

  it("foreign objects: junk at the next WAL slot or manifest id fails; a foreign name is not data", async () => {
    const s = await seeded();
    const nextSlot = s.batches
      .at(-1)!
      .replace(/\d+$/, (id) => String(Number(id) + 1).padStart(id.length, "0"));
    await s.store.put(nextSlot, new TextEncoder().encode("not a batch, someone else's file"));
    await expectCorruption(s, nextSlot);

    const t = await seeded();
    const junkManifest = "q/manifest/00000000000000000099";
    await t.store.put(junkManifest, new TextEncoder().encode('{"format":1}\n'));
    await expectCorruption(t, junkManifest);

    // Names outside the log's scheme are ignored: they cannot hold the log's data.
    const u = await seeded();
    await u.store.put("q/wal/README", new TextEncoder().encode("notes"));
    await u.store.put("q/checkpoint/backup.tar", new TextEncoder().encode("x"));
    const queue = await Queue.open(u.store, "q", QUIET);
    for (const id of [...u.before, ...u.afterIds]) assert.ok(await queue.getJob(id), id);
    await queue.close();
  });
});

describe('corruption: recoverCorruption "skip" recovers the last good state and reports the loss', {
  timeout: 180_000,
}, () => {
  it("a damaged WAL batch: earlier jobs survive, it and every later batch are reported", async () => {
    const s = await seeded();
    await rewrite(
      s,
      s.batches[2]!,
      flipByte((n) => n - 8),
    );
    const queue = await Queue.open(s.store, "q", SKIP);
    const report = queue.recovery;
    assert.ok(report !== null);
    assert.deepEqual(
      report.damaged.map((d) => d.key),
      [s.batches[2]!],
    );
    assert.match(report.damaged[0]!.reason, /checksum/);
    // Its header still reads: its one record counts as lost with the two skipped ones.
    assert.equal(report.damaged[0]!.records, 1);
    assert.deepEqual(report.skipped, [
      { key: s.batches[3]!, records: 1 },
      { key: s.batches[4]!, records: 1 },
    ]);
    assert.equal(report.lostRecords, 3);
    assert.equal(report.recoveredRecords, 2);
    for (const id of [...s.before, ...s.afterIds.slice(0, 2)])
      assert.ok(await queue.getJob(id), id);
    for (const id of s.afterIds.slice(2)) assert.equal(await queue.getJob(id), null, id);
    assert.deepEqual(await queue.stats("jobs"), {
      queue: "jobs",
      pending: 5,
      claimed: 0,
      done: 0,
      dead: 0,
      scheduled: 0,
      paused: false,
    });
    const digest = stateDigest(liveState(queue));
    await queue.close();

    // The salvaged state was checkpointed: a plain open works and sees the same state.
    const again = await Queue.open(s.store, "q", QUIET);
    assert.equal(again.recovery, null);
    assert.equal(stateDigest(liveState(again)), digest);
    await again.close();
  });

  it("a gap: recovery stops before it and counts the batches after it", async () => {
    const s = await seeded();
    await s.store.delete(s.batches[1]!);
    const queue = await Queue.open(s.store, "q", SKIP);
    assert.deepEqual(
      queue.recovery?.damaged.map((d) => d.key),
      [s.batches[1]!],
    );
    assert.equal(queue.recovery?.lostRecords, 3);
    assert.ok(await queue.getJob(s.afterIds[0]!));
    assert.equal(await queue.getJob(s.afterIds[1]!), null);
    const id = await queue.enqueue("jobs", "new work after recovery");
    await queue.close();
    const again = await Queue.open(s.store, "q", QUIET);
    assert.ok(await again.getJob(id));
    await again.close();
  });

  it("a missing checkpoint: rebuilds from the WAL it covered while that is still there", async () => {
    const s = await seeded();
    await s.store.delete(s.checkpoint);
    const queue = await Queue.open(s.store, "q", SKIP);
    const report = queue.recovery;
    assert.ok(report !== null);
    assert.deepEqual(report.damaged, [{ key: s.checkpoint, reason: "checkpoint is missing" }]);
    assert.equal(report.checkpoint, null);
    assert.equal(report.lostRecords, 0);
    // Not yet garbage-collected, the WAL from the first batch still holds every job.
    for (const id of [...s.before, ...s.afterIds]) assert.ok(await queue.getJob(id), id);
    await queue.close();
  });

  it("a missing checkpoint whose WAL was collected: an empty state, nothing invented", async () => {
    const s = await seeded();
    await s.store.delete(s.checkpoint);
    const first = (await listAll(s.store, "q/wal/")).find((o) => o.size > 0)!;
    await s.store.delete(first.key);
    const queue = await Queue.open(s.store, "q", SKIP);
    const report = queue.recovery;
    assert.ok(report !== null);
    assert.deepEqual(
      report.damaged.map((d) => d.key),
      [s.checkpoint, first.key],
    );
    assert.equal(report.recoveredRecords, 0);
    assert.ok(report.lostRecords >= 5, `lost ${report.lostRecords}`);
    assert.deepEqual(await queue.listQueues(), []);
    await queue.close();
  });

  it("an intact store opens with recovery null and nothing skipped", async () => {
    const s = await seeded();
    const queue = await Queue.open(s.store, "q", SKIP);
    assert.equal(queue.recovery, null);
    for (const id of [...s.before, ...s.afterIds]) assert.ok(await queue.getJob(id));
    await queue.close();
  });

  it("rejects an unknown recovery mode before touching the store", async () => {
    const s = await seeded();
    await assert.rejects(
      Queue.open(s.store, "q", { ...QUIET, log: { recoverCorruption: "yolo" as "skip" } }),
      { code: "INVALID_ARGUMENT" },
    );
  });
});

describe("corruption: a WAL batch truncated to nothing", { timeout: 180_000 }, () => {
  // Regression: fences used to be empty objects, so an emptied batch passed for a fence and
  // its records were dropped without a word. Fences now carry a magic, epoch and checksum.
  it("fails open with CORRUPTION naming it, instead of passing for a fence", async () => {
    const s = await seeded();
    await rewrite(s, s.batches[2]!, empty);
    await expectCorruption(s, s.batches[2]!);
  });

  it("is reported and skipped under recoverCorruption: skip", async () => {
    const s = await seeded();
    await rewrite(s, s.batches[3]!, empty);
    const queue = await Queue.open(s.store, "q", SKIP);
    assert.deepEqual(
      queue.recovery?.damaged.map((d) => d.key),
      [s.batches[3]!],
    );
    assert.equal(queue.recovery?.lostRecords, 1);
    assert.ok(await queue.getJob(s.afterIds[2]!));
    assert.equal(await queue.getJob(s.afterIds[3]!), null);
    await queue.close();
  });

  it("fences younger than fenceMinAgeMs are not garbage-collected", async () => {
    const s = await seeded();
    // The second writer was not closed: this open fences its window of writes in flight.
    const queue = await Queue.open(s.store, "q", { ...QUIET, log: { gcMinAgeMs: 0 } });
    const fences = (await listAll(s.store, "q/wal/")).filter((o) => isFenceSize(o.size));
    assert.equal(fences.length, 4);
    await queue.close(); // checkpoint + GC: the batches go, the fences stay
    const left = await listAll(s.store, "q/wal/");
    assert.deepEqual(left, fences);
  });
});

/** Every object under `q/` and a digest of its body: equal before and after means nothing was written. */
async function contents(store: FileStore): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const { key } of await listAll(store, "q/")) {
    const object = await store.get(key);
    out.set(key, object === null ? "gone" : createHash("sha256").update(object.body).digest("hex"));
  }
  return out;
}

describe("corruption: a log whose manifests are gone", { timeout: 180_000 }, () => {
  it("open refuses, naming the manifest folder and an object that remains; with skip too; nothing is written", async () => {
    const s = await seeded();
    for (const { key } of await listAll(s.store, "q/manifest/")) await s.store.delete(key);
    const before = await contents(s.store);
    for (const options of [QUIET, SKIP]) {
      await assert.rejects(Queue.open(s.store, "q", options), (error: unknown) => {
        assert.ok(error instanceof CorruptionError, String(error));
        assert.equal(error.objectKey, "q/manifest/");
        assert.match(
          error.message,
          /no manifest under "q\/manifest\/", but "q\/checkpoint\/\d{20}-/,
        );
        return true;
      });
    }
    assert.deepEqual(await contents(s.store), before, "the failed opens wrote and deleted nothing");
  });

  it("a WAL batch or a payload object alone is enough to refuse", async () => {
    const s = await seeded();
    for (const { key } of await listAll(s.store, "q/manifest/")) await s.store.delete(key);
    for (const { key } of await listAll(s.store, "q/checkpoint/")) await s.store.delete(key);
    await assert.rejects(Queue.open(s.store, "q", QUIET), /but "q\/wal\/\d{20}" exists/);
    for (const { key } of await listAll(s.store, "q/wal/")) await s.store.delete(key);
    await s.store.put("q/payload/01JEXAMPLE0000000000000000", new Uint8Array(300));
    await assert.rejects(Queue.open(s.store, "q", QUIET), /but "q\/payload\/01JEXAMPLE0+" exists/);
  });

  it("a queue nested under a folder of a new one (tenants/wal, …) is not its data: the parent opens", async () => {
    for (const child of ["tenants/wal", "tenants/payload", "tenants/checkpoint"]) {
      const store = new MemoryStore();
      const nested = await Queue.open(store, child, { ...QUIET, payloadOffloadBytes: 10 });
      await nested.enqueue("jobs", new Uint8Array(100));
      await nested.close();
      const parent = await Queue.open(store, "tenants", QUIET);
      await parent.close();
      const again = await Queue.open(store, child, QUIET);
      assert.equal((await again.stats("jobs")).pending, 1, child);
      await again.close();
    }
  });

  it("a new path, and one whose first open died after its store probe, open as new logs", async () => {
    const dir = await mkdtemp(join(tmpdir(), "taquba-corrupt-"));
    dirs.push(dir);
    const store = new FileStore(dir, { fsync: false });
    // What a first open killed before its first manifest leaves: at most a probe object.
    await store.put("q/probe/01JEXAMPLE0000000000000000", new Uint8Array(8));
    const queue = await Queue.open(store, "q", QUIET);
    const id = await queue.enqueue("jobs", "x");
    await queue.close();
    const again = await Queue.open(store, "q", QUIET);
    assert.ok(await again.getJob(id));
    await again.close();
    const fresh = await Queue.open(store, "other", QUIET);
    await fresh.close();
  });
});

describe("corruption: a failed open changes nothing", { timeout: 180_000 }, () => {
  it("a damaged checkpoint, WAL batch, gap or missing checkpoint: no manifest, fence or other object is added, however often it is retried", async () => {
    const newestManifest = async (s: Seeded) => (await listAll(s.store, "q/manifest/")).at(-1)!.key;
    /** Each damages a seeded store and names the object its open must report. */
    const damages: [string, (s: Seeded) => Promise<string>][] = [
      [
        "checkpoint",
        async (s) => {
          await rewrite(
            s,
            s.checkpoint,
            flipByte((n) => n - 2),
          );
          return s.checkpoint;
        },
      ],
      [
        "missing checkpoint",
        async (s) => {
          await s.store.delete(s.checkpoint);
          return s.checkpoint;
        },
      ],
      [
        "WAL batch",
        async (s) => {
          await rewrite(
            s,
            s.batches[2]!,
            flipByte((n) => n - 8),
          );
          return s.batches[2]!;
        },
      ],
      [
        "gap",
        async (s) => {
          await s.store.delete(s.batches[1]!);
          return s.batches[1]!;
        },
      ],
      [
        "newest manifest",
        async (s) => {
          const newest = await newestManifest(s);
          await rewrite(
            s,
            newest,
            flipByte(() => 10),
          );
          return newest;
        },
      ],
    ];
    for (const [name, damage] of damages) {
      const s = await seeded();
      const key = await damage(s);
      const before = await contents(s.store);
      for (let attempt = 0; attempt < 3; attempt++) await expectCorruption(s, key);
      assert.deepEqual(
        await contents(s.store),
        before,
        `${name}: the failed opens changed the store`,
      );
    }
  });

  it("an open that finds a live writer's WAL damaged fails without fencing it", async () => {
    const dir = await mkdtemp(join(tmpdir(), "taquba-corrupt-"));
    dirs.push(dir);
    const store = new FileStore(dir, { fsync: false });
    const live = await Queue.open(store, "q", QUIET);
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push(await live.enqueue("jobs", `job ${i}`));
    const batches = (await listAll(store, "q/wal/")).filter((o) => !isFenceSize(o.size));
    const damaged = batches[1]!.key;
    const object = await store.get(damaged);
    const body = Uint8Array.from(object!.body);
    body[body.byteLength - 8]! ^= 0x01;
    await store.put(damaged, body);
    await assert.rejects(Queue.open(store, "q", QUIET), (error: unknown) => {
      assert.ok(error instanceof CorruptionError, String(error));
      assert.equal(error.objectKey, damaged);
      return true;
    });
    // The live writer still owns the store: it was told nothing, but it was not fenced either.
    await live.enqueue("jobs", "after the failed open");
    await live.close();
  });
});

describe('corruption: a damaged newest manifest under recoverCorruption "skip"', {
  timeout: 180_000,
}, () => {
  it("is not skipped: open fails naming it, the store unchanged, as without skip", async () => {
    for (const damage of [empty, flipByte(() => 10)]) {
      const s = await seeded();
      const newest = (await listAll(s.store, "q/manifest/")).at(-1)!.key;
      await rewrite(s, newest, damage);
      const before = await contents(s.store);
      for (const options of [SKIP, QUIET]) {
        await assert.rejects(Queue.open(s.store, "q", options), (error: unknown) => {
          assert.ok(error instanceof CorruptionError, String(error));
          assert.equal(error.objectKey, newest);
          return true;
        });
      }
      assert.deepEqual(await contents(s.store), before, "the failed opens changed the store");
    }
  });

  it("the failed open does not fence a writer of the damaged manifest's epoch", async () => {
    const dir = await mkdtemp(join(tmpdir(), "taquba-corrupt-"));
    dirs.push(dir);
    const store = new FileStore(dir, { fsync: false });
    const live = await Queue.open(store, "q", QUIET);
    await live.enqueue("jobs", "live");
    const newest = (await listAll(store, "q/manifest/")).at(-1)!.key;
    const object = await store.get(newest);
    const body = Uint8Array.from(object!.body);
    body[10]! ^= 0x01;
    await store.put(newest, body);
    await assert.rejects(Queue.open(store, "q", SKIP), { code: "CORRUPTION" });
    await live.enqueue("jobs", "after the failed open");
    await live.close();
  });
});

describe('corruption: "skip" recovery of a cleanly closed store sticks', {
  timeout: 180_000,
}, () => {
  it("a damaged or missing checkpoint with no WAL after it: the rebuilt state is checkpointed, so a plain open works", async () => {
    for (const damage of ["missing", "flipped"] as const) {
      const dir = await mkdtemp(join(tmpdir(), "taquba-corrupt-"));
      dirs.push(dir);
      const store = new FileStore(dir, { fsync: false });
      const first = await Queue.open(store, "q", QUIET);
      const ids = [];
      for (let i = 0; i < 3; i++) ids.push(await first.enqueue("jobs", `job ${i}`));
      await first.close(); // a checkpoint, and no WAL batch after it
      const [checkpoint] = (await listAll(store, "q/checkpoint/")).map((o) => o.key);
      if (damage === "missing") await store.delete(checkpoint!);
      else {
        const body = Uint8Array.from((await store.get(checkpoint!))!.body);
        body[body.byteLength - 2]! ^= 0x01;
        await store.put(checkpoint!, body);
      }
      const recovering = await Queue.open(store, "q", SKIP);
      assert.deepEqual(
        recovering.recovery?.damaged.map((d) => d.key),
        [checkpoint],
      );
      for (const id of ids) assert.ok(await recovering.getJob(id), `${damage}: ${id}`);
      await recovering.close();
      const plain = await Queue.open(store, "q", QUIET);
      assert.equal(plain.recovery, null);
      for (const id of ids) assert.ok(await plain.getJob(id), `${damage}: ${id} after reopening`);
      await plain.close();
    }
  });
});
