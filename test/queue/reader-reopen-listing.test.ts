import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isFenceSize } from "../../src/log/codec.js";
import { type Logger, silentLogger } from "../../src/logger.js";
import { Queue } from "../../src/queue/queue.js";
import { QueueReader } from "../../src/queue/reader.js";
import { MemoryStore } from "../../src/store/memory.js";
import { listAll } from "../../src/store/types.js";
import { ListCountStore, type Listed, readerView } from "./reader-helpers.js";

/** Keys a page of the reader's listings: a folder of a few dozen objects takes several. */
const PAGE = 7;
/** What a refresh lists: the log's folders, and the writers' heartbeats. */
const FOLDERS = ["q/manifest/", "q/heartbeat/", "q/wal/", "q/checkpoint/"];

/** What `reader` shows, checkpoint age aside (it is as of each read). */
const described = (reader: QueueReader) => ({
  ...reader.inspection,
  checkpoint: reader.inspection.checkpoint && { ...reader.inspection.checkpoint, ageMs: 0 },
});

async function assertSameAsFreshOpen(store: MemoryStore, reader: QueueReader): Promise<void> {
  const fresh = await QueueReader.open(store, "q");
  assert.deepEqual(readerView(reader), readerView(fresh));
  assert.deepEqual(described(reader), described(fresh));
}

/** One listing of each of the log's folders as they are now: one request a page, every key once. */
async function onePassOfEach(store: MemoryStore): Promise<Record<string, Listed>> {
  const expected: Record<string, Listed> = {};
  for (const prefix of FOLDERS) {
    const keys = (await listAll(store, prefix)).length;
    expected[prefix] = { requests: Math.max(1, Math.ceil(keys / PAGE)), keys };
  }
  return expected;
}

/** A writer that checkpoints every 4 batches and collects nothing for an hour: a long WAL folder. */
function writer(store: MemoryStore): Promise<Queue> {
  return Queue.open(store, "q", {
    logger: silentLogger,
    defaultQueueConfig: { keepDoneJobsMs: 3_600_000, maxAttempts: 1 },
    log: { checkpointWalBatches: 4, gcMinAgeMs: 3_600_000 },
  });
}

async function work(queue: Queue, round: number): Promise<void> {
  for (let i = 0; i < 6; i++) await queue.enqueue("work", `job ${round}.${i}`);
  const done = await queue.claim("work");
  await queue.ack(done!);
  await queue.kvPut(`key/${round}`, `value ${round}`);
  await queue.flush();
}

function infoLines(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  return { lines, logger: { ...silentLogger, info: (message: string) => lines.push(message) } };
}

const idOf = (key: string): number => Number(key.slice(key.lastIndexOf("/") + 1).slice(0, 20));

describe("QueueReader.reopen: what a refresh lists", { timeout: 60_000 }, () => {
  it("lists each folder of the log once, a request a page, and describes it as a fresh open does, across writes, collection and a takeover", async () => {
    const store = new MemoryStore();
    // A writer that crashed: the one after it fenced its WAL.
    const first = await writer(store);
    for (let round = 0; round < 3; round++) await work(first, round);
    let live = await writer(store);
    for (let round = 3; round < 6; round++) await work(live, round);
    const counted = new ListCountStore(store, PAGE);
    const { logger, lines } = infoLines();
    let reader = await QueueReader.open(counted, "q", { logger });
    counted.take();
    const walKeys = (await listAll(store, "q/wal/")).length;
    assert.ok(walKeys > 4 * PAGE, `a WAL folder of several pages (${walKeys} objects)`);

    // Writes: the refresh goes on from its snapshot.
    await work(live, 6);
    reader = await reader.reopen();
    assert.deepEqual(counted.take(), await onePassOfEach(store));
    assert.deepEqual(lines, []);
    await assertSameAsFreshOpen(store, reader);

    // Nothing new: the same listings.
    reader = await reader.reopen();
    assert.deepEqual(counted.take(), await onePassOfEach(store));
    await assertSameAsFreshOpen(store, reader);

    // Collection between refreshes, of objects the reader no longer needs: WAL batches and a
    // fence its checkpoint covers, old manifests and a checkpoint nobody reads from. The reader
    // goes on from its snapshot and describes the folders as they are now.
    const covered = reader.inspection.manifest!.replayAfter;
    const walBefore = reader.inspection.wal;
    const collected = (await listAll(store, "q/wal/")).filter((o) => idOf(o.key) <= covered - 2);
    assert.ok(
      collected.some((o) => isFenceSize(o.size)),
      "a fence among the collected objects",
    );
    for (const { key } of collected) await store.delete(key);
    const manifests = await listAll(store, "q/manifest/");
    for (const { key } of manifests.slice(0, 2)) await store.delete(key);
    const kept = new Set([reader.inspection.manifest!.checkpoint]);
    const spare = (await listAll(store, "q/checkpoint/")).find(
      (o) => !kept.has(o.key.slice("q/checkpoint/".length)),
    );
    assert.ok(spare !== undefined);
    await store.delete(spare.key);
    await work(live, 7);
    reader = await reader.reopen();
    assert.deepEqual(counted.take(), await onePassOfEach(store));
    assert.deepEqual(lines, [], "collection of what it no longer needs is read on from");
    await assertSameAsFreshOpen(store, reader);
    assert.ok(reader.inspection.wal.objects < walBefore.objects + 8);
    assert.ok(reader.inspection.wal.firstId! > walBefore.firstId!);

    // A takeover: read in full, then on from there.
    const crashed = live;
    live = await writer(store);
    await work(live, 8);
    reader = await reader.reopen();
    counted.take();
    assert.equal(lines.length, 1);
    assert.match(lines[0]!, /another writer opened the log/);
    await assertSameAsFreshOpen(store, reader);
    await work(live, 9);
    reader = await reader.reopen();
    assert.deepEqual(counted.take(), await onePassOfEach(store));
    assert.equal(lines.length, 1);
    await assertSameAsFreshOpen(store, reader);

    await live.close();
    await crashed.close().catch(() => {});
    await first.close().catch(() => {});
  });
});
