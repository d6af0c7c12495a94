import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { CorruptionError } from "../../src/errors.js";
import { type Logger, silentLogger } from "../../src/logger.js";
import { Queue } from "../../src/queue/queue.js";
import { QueueReader } from "../../src/queue/reader.js";
import { MemoryStore } from "../../src/store/memory.js";
import type { StoredObject } from "../../src/store/types.js";
import { listAll } from "../../src/store/types.js";
import { CountingStore } from "../../src/store/wrappers/counting.js";
import { turnsDuring } from "../turns.js";
import { readerView } from "./reader-helpers.js";

/** Remembers the keys read, so a test can tell which objects a reopen fetched. */
class ReadKeys extends CountingStore {
  gets: string[] = [];

  override async get(key: string): Promise<StoredObject | null> {
    this.gets.push(key);
    return super.get(key);
  }

  /** The keys read since the last call. */
  take(): string[] {
    const gets = this.gets;
    this.gets = [];
    return gets;
  }
}

async function assertSameAsFreshOpen(store: MemoryStore, reader: QueueReader): Promise<void> {
  const fresh = await QueueReader.open(store, "q");
  assert.deepEqual(readerView(reader), readerView(fresh));
  // The checkpoint's age is as of each read.
  const described = (r: QueueReader) => ({
    ...r.inspection,
    checkpoint: r.inspection.checkpoint && { ...r.inspection.checkpoint, ageMs: 0 },
  });
  assert.deepEqual(described(reader), described(fresh));
}

/** A reader of `store` whose reads `keys` records from here on (what its open read is dropped). */
async function watchedReader(
  store: MemoryStore,
  logger?: Logger,
): Promise<{ keys: ReadKeys; reader: QueueReader }> {
  const keys = new ReadKeys(store);
  const reader = await QueueReader.open(keys, "q", logger === undefined ? {} : { logger });
  keys.take();
  return { keys, reader };
}

async function writer(store: MemoryStore): Promise<Queue> {
  return Queue.open(store, "q", {
    logger: silentLogger,
    defaultQueueConfig: { keepDoneJobsMs: 3_600_000, maxAttempts: 1 },
  });
}

/** Some of every kind of change: enqueues, a claim, an ack, a dead letter, a KV entry. */
async function someWork(queue: Queue, round: number): Promise<void> {
  for (let i = 0; i < 3; i++) await queue.enqueue("work", `job ${round}.${i}`);
  await queue.enqueue("later", `later ${round}`, { runAt: Date.now() + 3_600_000 });
  const done = await queue.claim("work");
  await queue.ack(done!);
  const dead = await queue.claim("work");
  await queue.deadLetter(dead!, "no");
  await queue.claim("work"); // stays claimed
  await queue.kvPut(`key/${round}`, `value ${round}`);
}

/** Registry key of the reader's test-only slice hook: `reader[SET_SLICE_MS](ms)`. */
const SET_SLICE_MS = Symbol.for("taquba.setSliceMs");

function setSliceMs(reader: QueueReader, ms: number): void {
  (reader as unknown as Record<symbol, (ms: number) => void>)[SET_SLICE_MS]!(ms);
}

/** A logger that keeps its info lines (why a reopen read the log in full). */
function infoLines(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    logger: { ...silentLogger, info: (message: string) => lines.push(message) },
  };
}

const isCheckpoint = (key: string): boolean => key.startsWith("q/checkpoint/");
const isWal = (key: string): boolean => key.startsWith("q/wal/");
const isManifest = (key: string): boolean => key.startsWith("q/manifest/");
/** The key of the checkpoint `reader` was read from. */
const checkpointOf = (reader: QueueReader): string =>
  `q/checkpoint/${reader.inspection.manifest!.checkpoint}`;

describe("QueueReader.reopen goes on from its snapshot", { timeout: 60_000 }, () => {
  it("reads only the WAL written since (never the checkpoint), and answers as a fresh open does", async () => {
    const store = new MemoryStore();
    const queue = await writer(store);
    for (let i = 0; i < 50; i++) await queue.enqueue("work", `seed ${i}`);
    await queue.close(); // a checkpoint: what a fresh open reads first
    const live = await writer(store);
    await someWork(live, 0);
    const keys = new ReadKeys(store);
    let reader = await QueueReader.open(keys, "q");
    assert.ok(keys.take().some(isCheckpoint), "a full open reads the checkpoint");
    await assertSameAsFreshOpen(store, reader);

    const base = checkpointOf(reader);
    for (let round = 1; round <= 3; round++) {
      const walBefore = new Set((await listAll(store, "q/wal/")).map((o) => o.key));
      await someWork(live, round);
      const written = (await listAll(store, "q/wal/")).filter((o) => !walBefore.has(o.key));
      reader = await reader.reopen();
      const read = keys.take();
      // Only the first reopen that hands the state on reads the checkpoint the reader was
      // read from again: what that reader rebuilds from if read again (no copy kept at open).
      assert.deepEqual(
        read.filter(isCheckpoint),
        round === 1 ? [base] : [],
        "a reopen reads no newer checkpoint",
      );
      assert.deepEqual(
        read.filter(isWal).sort(),
        written.map((o) => o.key).sort(),
        "a reopen reads exactly the WAL objects written since",
      );
      const requests = reader.storeRequests();
      assert.equal(requests.counts.get, written.length + read.filter((k) => !isWal(k)).length);
      assert.equal(
        requests.bytesRead,
        written.reduce((sum, o) => sum + o.size, 0) +
          (await Promise.all(read.filter((k) => !isWal(k)).map((k) => store.get(k)))).reduce(
            (sum, o) => sum + (o?.body.byteLength ?? 0),
            0,
          ),
      );
      await assertSameAsFreshOpen(store, reader);
      assert.equal(reader.stats("work").pending, 50);
    }
    await live.close();
  });

  it("reads listings and the newest manifest only when nothing changed", async () => {
    const store = new MemoryStore();
    const live = await writer(store);
    await someWork(live, 0);
    const { keys, reader } = await watchedReader(store);
    const again = await reader.reopen();
    const requests = again.storeRequests();
    // The newest manifest is read every time: whose it is tells whether the snapshot can go on.
    const read = keys.take();
    assert.equal(read.length, 1, "one object read");
    assert.ok(isManifest(read[0]!), `the newest manifest is read, not ${read[0]}`);
    assert.equal(requests.counts.get, 1);
    assert.equal(requests.bytesRead, (await store.get(read[0]!))!.body.byteLength);
    assert.equal(requests.counts.put + requests.counts.delete, 0);
    assert.ok(requests.counts.list > 0);
    assert.deepEqual(readerView(again), readerView(reader));
    // Both share one state until one of them goes on: each still answers as of its moment.
    const before = readerView(reader);
    await someWork(live, 1);
    const later = await again.reopen();
    assert.deepEqual(readerView(reader), before);
    assert.deepEqual(readerView(again), before);
    await assertSameAsFreshOpen(store, later);
    await live.close();
  });

  it("leaves the reader it was called on answering as of its own moment", async () => {
    const store = new MemoryStore();
    const live = await writer(store);
    await someWork(live, 0);
    const first = await QueueReader.open(store, "q");
    const firstView = readerView(first);
    const firstJob = first.listJobs("work", "dead").jobs[0]!;
    await someWork(live, 1);
    const second = await first.reopen();
    await someWork(live, 2);
    const third = await second.reopen();
    await assertSameAsFreshOpen(store, third);
    const thirdView = readerView(third);
    // The state went on through `second` into `third`: the older readers rebuild theirs.
    assert.deepEqual(readerView(first), firstView);
    assert.deepEqual(first.getJob(firstJob.id), firstJob);
    assert.notDeepEqual(readerView(second), firstView);
    assert.notDeepEqual(readerView(second), thirdView);
    assert.deepEqual(readerView(third), thirdView);
    // Reopening an older reader again goes on from its own snapshot.
    await someWork(live, 3);
    const branch = await first.reopen();
    await assertSameAsFreshOpen(store, branch);
    const fromThird = await third.reopen();
    await assertSameAsFreshOpen(store, fromThird);
    assert.deepEqual(readerView(branch), readerView(fromThird));
    assert.deepEqual(readerView(first), firstView);
    await live.close();
  });

  it("keeps every reader of a long chain of reopens answering as of its moment", async () => {
    const store = new MemoryStore();
    const live = await writer(store);
    // A small state: the WAL taken on soon outgrows its encoded copy, which is then encoded anew.
    const readers = [await QueueReader.open(store, "q")];
    const views = [readerView(readers[0]!)];
    for (let round = 0; round < 12; round++) {
      await someWork(live, round);
      const next = await readers.at(-1)!.reopen();
      await assertSameAsFreshOpen(store, next);
      readers.push(next);
      views.push(readerView(next));
    }
    for (const [i, reader] of [...readers.entries()].reverse())
      assert.deepEqual(readerView(reader), views[i]);
    await live.close();
  });

  it("gives two reopens of one reader at once a snapshot each", async () => {
    const store = new MemoryStore();
    const live = await writer(store);
    await someWork(live, 0);
    const reader = await QueueReader.open(store, "q");
    const before = readerView(reader);
    await someWork(live, 1);
    const [a, b] = await Promise.all([reader.reopen(), reader.reopen()]);
    await assertSameAsFreshOpen(store, a);
    await assertSameAsFreshOpen(store, b);
    assert.deepEqual(readerView(reader), before);
    await someWork(live, 2);
    const [c, d] = await Promise.all([a.reopen(), b.reopen()]);
    await assertSameAsFreshOpen(store, c);
    await assertSameAsFreshOpen(store, d);
    assert.notDeepEqual(readerView(a), readerView(c));
    assert.deepEqual(readerView(a), readerView(b));
    assert.deepEqual(readerView(reader), before);
    await live.close();
  });

  it("goes on across a newer checkpoint while its WAL is still there", async () => {
    const store = new MemoryStore();
    const live = await writer(store);
    await someWork(live, 0);
    const { keys, reader } = await watchedReader(store);
    await someWork(live, 1);
    await live.close(); // writes a checkpoint covering what the reader has not read
    const after = await reader.reopen();
    assert.notEqual(
      after.inspection.manifest!.replayAfter,
      reader.inspection.manifest!.replayAfter,
    );
    assert.deepEqual(keys.take().filter(isCheckpoint), []);
    await assertSameAsFreshOpen(store, after);
  });

  it("reads the newest checkpoint when the WAL it would go on from was collected", async () => {
    const store = new MemoryStore();
    const live = await writer(store);
    await someWork(live, 0);
    const { logger, lines } = infoLines();
    const { keys, reader } = await watchedReader(store, logger);
    await someWork(live, 1);
    await live.close(); // the same writer's checkpoint
    // What garbage collection does after the checkpoint: the WAL it covers is deleted.
    const manifest = (await QueueReader.open(store, "q")).inspection.manifest!;
    for (const { key } of await listAll(store, "q/wal/"))
      if (Number(key.slice("q/wal/".length)) <= manifest.replayAfter) await store.delete(key);
    const after = await reader.reopen();
    assert.ok(keys.take().some(isCheckpoint), "the fallback reads the checkpoint");
    assert.equal(lines.length, 1);
    assert.match(lines[0]!, /reads the log in full: a newer checkpoint's garbage collection/);
    await assertSameAsFreshOpen(store, after);
    // And goes on from there.
    const later = await after.reopen();
    assert.deepEqual(keys.take().filter(isCheckpoint), []);
    assert.equal(lines.length, 1);
    await assertSameAsFreshOpen(store, later);
  });

  it("reads the log in full after a takeover by a new writer, then goes on from there", async () => {
    const store = new MemoryStore();
    const first = await writer(store);
    await someWork(first, 0);
    await first.close(); // a checkpoint: what a full read reads
    const crashed = await writer(store);
    await someWork(crashed, 1);
    const { logger, lines } = infoLines();
    const { keys, reader } = await watchedReader(store, logger);
    const second = await writer(store); // fences `crashed`, requeues its claimed job
    await someWork(second, 2);
    const after = await reader.reopen();
    assert.ok(after.inspection.manifest!.epoch > reader.inspection.manifest!.epoch);
    // Another writer's tenure: what it kept need not be what this reader read.
    assert.ok(keys.take().some(isCheckpoint), "a takeover is read in full");
    assert.deepEqual(lines, [
      "reader: reopen reads the log in full: another writer opened the log (writer epoch 2, now 3)",
    ]);
    await assertSameAsFreshOpen(store, after);
    await someWork(second, 3);
    const later = await after.reopen();
    assert.deepEqual(
      keys.take().filter(isCheckpoint),
      [checkpointOf(after)],
      "the same writer's WAL: read on (the checkpoint read again is its own, kept to rebuild it)",
    );
    assert.equal(lines.length, 1);
    await assertSameAsFreshOpen(store, later);
    await second.close();
    await crashed.close().catch(() => {});
  });

  it("does not read on across a takeover that salvaged damage it had read", async () => {
    const store = new MemoryStore();
    const first = await writer(store);
    await first.enqueue("work", "before");
    await first.close();
    const crashed = await writer(store);
    const walBefore = new Set((await listAll(store, "q/wal/")).map((o) => o.key));
    for (let i = 0; i < 5; i++) await crashed.enqueue("work", `after ${i}`);
    const batches = (await listAll(store, "q/wal/")).filter((o) => !walBefore.has(o.key));
    const reader = await QueueReader.open(store, "q");
    assert.equal(reader.stats("work").pending, 6);
    // Damaged after the reader read it: a writer that salvages drops it and what came after.
    const damaged = batches.at(-3)!.key;
    const body = (await store.get(damaged))!.body.slice();
    body[Math.floor(body.byteLength / 2)]! ^= 0xff;
    await store.put(damaged, body);
    const salvaging = await Queue.open(store, "q", {
      logger: silentLogger,
      log: { recoverCorruption: "skip" },
    });
    await salvaging.enqueue("work", "by second");
    const after = await reader.reopen();
    await assertSameAsFreshOpen(store, after);
    assert.equal(after.stats("work").pending, 4);
    await salvaging.close();
    await crashed.close().catch(() => {});
  });

  it("reads the store afresh when it was replaced by a log that went further", async () => {
    const store = new MemoryStore();
    const old = await writer(store);
    for (let i = 0; i < 3; i++) await old.enqueue("old", `old ${i}`);
    await old.close();
    const reader = await QueueReader.open(store, "q");
    const was = reader.inspection.manifest!;
    for (const { key } of await listAll(store, "q/")) await store.delete(key);
    for (let round = 0; round < 4; round++) {
      const replacement = await writer(store);
      for (let i = 0; i < 3; i++) await replacement.enqueue("new", `new ${round}.${i}`);
      await replacement.close();
    }
    const now = (await QueueReader.open(store, "q")).inspection.manifest!;
    assert.ok(now.epoch > was.epoch && now.replayAfter > was.replayAfter);
    const after = await reader.reopen();
    await assertSameAsFreshOpen(store, after);
    assert.deepEqual(after.listQueues(), ["new"]);
    assert.equal(after.stats("new").pending, 12);
  });

  it("reads the store afresh when it was replaced by a log with the same newest manifest id", async () => {
    const store = new MemoryStore();
    const old = await writer(store);
    await old.enqueue("old", "old");
    await old.close();
    const reader = await QueueReader.open(store, "q");
    const was = reader.inspection.manifest!;
    const manifestKeys = async () => (await listAll(store, "q/manifest/")).map((o) => o.key);
    const keysWere = await manifestKeys();
    for (const { key } of await listAll(store, "q/")) await store.delete(key);
    const replacement = await writer(store);
    await replacement.enqueue("new", "new");
    await replacement.close();
    // The same manifest ids, epoch and WAL slots: only the writer token differs.
    assert.deepEqual(await manifestKeys(), keysWere);
    const now = await QueueReader.open(store, "q");
    assert.equal(now.inspection.manifest!.epoch, was.epoch);
    assert.equal(now.inspection.manifest!.replayAfter, was.replayAfter);
    const after = await reader.reopen();
    await assertSameAsFreshOpen(store, after);
    assert.deepEqual(after.listQueues(), ["new"]);
  });

  it("reads the store afresh when it was replaced by another under the same path", async () => {
    const store = new MemoryStore();
    const live = await writer(store);
    await someWork(live, 0);
    await someWork(live, 1);
    await live.close();
    const keys = new ReadKeys(store);
    const reader = await QueueReader.open(keys, "q");
    for (const { key } of await listAll(store, "q/")) await store.delete(key);
    const replacement = await writer(store);
    await replacement.enqueue("other", "x");
    const after = await reader.reopen();
    await assertSameAsFreshOpen(store, after);
    assert.deepEqual(after.listQueues(), ["other"]);
    await replacement.close();
  });

  it("keeps reading offloaded payloads, and reports a damaged WAL object as a fresh open does", async () => {
    const store = new MemoryStore();
    const live = await Queue.open(store, "q", { logger: silentLogger, payloadOffloadBytes: 1024 });
    await live.enqueue("work", "small");
    const reader = await QueueReader.open(store, "q");
    const big = new Uint8Array(4096).fill(9);
    const id = await live.enqueue("work", big);
    const after = await reader.reopen();
    assert.equal(reader.getJob(id), null);
    assert.equal(after.getJob(id)!.payloadSize, big.byteLength);
    assert.deepEqual(new Uint8Array((await after.loadJob(id))!.payload), big);
    const [loaded] = (await after.listJobsLoaded("work", "pending")).jobs.filter(
      (j) => j.id === id,
    );
    assert.deepEqual(new Uint8Array(loaded!.payload), big);

    const walBefore = new Set((await listAll(store, "q/wal/")).map((o) => o.key));
    await live.enqueue("work", "one more");
    const written = (await listAll(store, "q/wal/")).filter((o) => !walBefore.has(o.key));
    const damaged = written.at(-1)!.key;
    const body = (await store.get(damaged))!.body.slice();
    body[body.byteLength - 1]! ^= 0xff;
    await store.put(damaged, body);
    const fresh = await QueueReader.open(store, "q").catch((error: unknown) => error);
    const reopened = await after.reopen().catch((error: unknown) => error);
    assert.ok(fresh instanceof CorruptionError);
    assert.ok(reopened instanceof CorruptionError);
    assert.equal(reopened.message, fresh.message);
    assert.match(reopened.message, new RegExp(damaged));
    // The reader it was called on is as it was.
    assert.equal(after.getJob(id)!.payloadSize, big.byteLength);
    await live.close().catch(() => {});
  });

  it("applies the records it brings in slices, giving the event loop turns between them", async () => {
    const store = new MemoryStore();
    const live = await writer(store);
    const reader = await QueueReader.open(store, "q");
    setSliceMs(reader, 0); // every budget check finds the slice spent
    const payload = new Uint8Array(1);
    for (let i = 0; i < 2_000; i++) await live.enqueue("work", payload);
    let fired = false;
    setImmediate(() => {
      fired = true;
    });
    const { result: after, turns } = await turnsDuring(() => reader.reopen());
    assert.ok(fired, "a callback queued before the reopen ran before it resolved");
    // A budget check every 256 records: 2,000 records yield at least 7 times.
    assert.ok(turns >= 7, `the reopen gave the event loop ${turns} turns`);
    assert.equal(after.stats("work").pending, 2_000);
    // A reader reopened from it slices its work the same way.
    for (let i = 0; i < 2_000; i++) await live.enqueue("work", payload);
    const { result: later, turns: turnsAgain } = await turnsDuring(() => after.reopen());
    assert.ok(turnsAgain >= 7);
    assert.equal(later.stats("work").pending, 4_000);
    // The readers it took the state from still answer as of their moment (rebuilt once read).
    assert.equal(reader.stats("work").pending, 0);
    assert.equal(after.stats("work").pending, 2_000);
    await live.close();
  });

  it("takes the state on without copying or encoding it", async () => {
    const store = new MemoryStore();
    const seed = await writer(store);
    const payload = new Uint8Array(1_024).fill(3);
    for (let i = 0; i < 20_000; i += 1_000)
      await seed.enqueueMany(
        "work",
        Array.from({ length: 1_000 }, () => ({ payload })),
      );
    await seed.close(); // a checkpoint of some 20 MB
    const live = await writer(store);
    const reader = await QueueReader.open(store, "q");
    const checkpointBytes = reader.inspection.checkpoint!.bytes;
    assert.ok(checkpointBytes > 20_000_000);
    // The first reopen that brings records reads the reader's checkpoint again (what the reader
    // rebuilds from); the ones after it allocate no state-sized buffer.
    await live.enqueue("work", "new");
    const first = await reader.reopen();
    assert.equal(first.stats("work").pending, 20_001);
    await live.enqueue("work", "newer");
    const before = process.memoryUsage().arrayBuffers;
    const after = await first.reopen();
    const grown = process.memoryUsage().arrayBuffers - before;
    assert.ok(
      grown < checkpointBytes / 4,
      `the reopen allocated ${grown} bytes of buffers (checkpoint: ${checkpointBytes})`,
    );
    assert.equal(after.stats("work").pending, 20_002);
    await live.close();
  });

  it("reads its checkpoint again only when it hands the state on, and reads in full when it was collected", async () => {
    const store = new MemoryStore();
    const seed = await writer(store);
    await someWork(seed, 0);
    await seed.close(); // the checkpoint the reader is read from
    const live = await writer(store);
    await someWork(live, 1);
    const keys = new ReadKeys(store);
    const { logger, lines } = infoLines();
    const reader = await QueueReader.open(keys, "q", { logger });
    const was = readerView(reader);
    const own = checkpointOf(reader);
    keys.take();
    // Nothing new: the state is shared, nothing to keep.
    const idle = await reader.reopen();
    assert.deepEqual(keys.take().filter(isCheckpoint), []);
    await someWork(live, 2);
    await live.close(); // a newer checkpoint, the same writer
    // What garbage collection does once a newer checkpoint exists (the WAL after it stays).
    await store.delete(own);
    const after = await idle.reopen();
    assert.ok(
      keys.take().filter(isCheckpoint).includes(checkpointOf(after)),
      "it reads the newest checkpoint in full",
    );
    assert.equal(lines.length, 1);
    assert.match(lines[0]!, /reads the log in full: the checkpoint it was read from .* is gone/);
    await assertSameAsFreshOpen(store, after);
    // The readers it was called on kept their own state: none was handed on.
    assert.deepEqual(readerView(idle), was);
    assert.deepEqual(readerView(reader), was);
  });

  it("reads a newer checkpoint once the WAL kept since its own outgrew it", async () => {
    const store = new MemoryStore();
    const seed = await writer(store);
    await someWork(seed, 0);
    await seed.close(); // a small checkpoint: what the reader rebuilds from, with the WAL after it
    const live = await writer(store);
    const keys = new ReadKeys(store);
    const { logger, lines } = infoLines();
    const reader = await QueueReader.open(keys, "q", { logger });
    const was = readerView(reader);
    keys.take();
    const payload = new Uint8Array(100 * 1_024).fill(5);
    for (let i = 0; i < 180; i += 10)
      await live.enqueueMany(
        "work",
        Array.from({ length: 10 }, () => ({ payload })),
      );
    await live.close(); // a newer checkpoint; the WAL since the reader's is 18 MB (over 16 MiB)
    const after = await reader.reopen();
    assert.ok(keys.take().some(isCheckpoint), "the reopen reads the newer checkpoint");
    assert.equal(lines.length, 1);
    assert.match(lines[0]!, /reads the log in full: the WAL kept since its checkpoint outgrew it/);
    await assertSameAsFreshOpen(store, after);
    // The reader it was called on kept its own state.
    assert.deepEqual(readerView(reader), was);
    // And it goes on from the newer checkpoint.
    const later = await after.reopen();
    assert.deepEqual(keys.take().filter(isCheckpoint), []);
    assert.equal(lines.length, 1);
    await assertSameAsFreshOpen(store, later);
  });
});
