import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ulid } from "ulid";
import { ManualClock } from "../../src/clock.js";
import { InvalidArgumentError, StorageError } from "../../src/errors.js";
import { silentLogger } from "../../src/logger.js";
import { PAYLOAD_TRAILER_BYTES } from "../../src/queue/payload-object.js";
import { ORPHAN_MIN_AGE_MS, PAYLOAD_REQUESTS_IN_FLIGHT } from "../../src/queue/payloads.js";
import { Queue } from "../../src/queue/queue.js";
import { QueueReader } from "../../src/queue/reader.js";
import { FileStore } from "../../src/store/file.js";
import { MemoryStore } from "../../src/store/memory.js";
import { ObjectExistsError, type ObjectStore, type PutOptions } from "../../src/store/types.js";
import { FaultStore } from "../../src/store/wrappers/fault.js";
import { rejection } from "../log/helpers.js";
import { runAndKill } from "./kill.js";
import { openOn, STORES, tempDir, text, turns } from "./stores.js";

const KIB = 1024;

function big(size: number, seed = 7): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 31 + seed) & 0xff;
  return bytes;
}

async function payloadKeys(store: ObjectStore): Promise<string[]> {
  return (await store.list("q/payload/")).objects.map((o) => o.key);
}

/** Waits (real time, bounded) until the payload objects are `expected` (deletes run after durability). */
async function eventually(store: ObjectStore, expected: number): Promise<string[]> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const keys = await payloadKeys(store);
    if (keys.length === expected || Date.now() > deadline) return keys;
    await turns(5);
  }
}

for (const kind of STORES) {
  describe(`payload offload on ${kind.name}`, { timeout: 60_000 }, () => {
    it("a payload above the threshold is one object, not in the log or the checkpoint, and reads back on claim and getJob", async () => {
      const { queue, store, reopen } = await openOn(kind, {
        defaultQueueConfig: { retryBackoffBaseMs: 0 },
      });
      const payload = big(300 * KIB);
      const before = queue.logStats().bytesWritten;
      const id = await queue.enqueue("work", payload);
      const small = await queue.enqueue("work", big(256 * KIB)); // at the threshold: inline
      assert.equal((await payloadKeys(store)).length, 1);
      const logged = queue.logStats().bytesWritten - before;
      assert.ok(
        logged < 256 * KIB + 2 * KIB,
        `the log got ${logged} bytes: only the small payload`,
      );
      assert.deepEqual((await queue.getJob(id))?.payload, Buffer.from(payload));
      assert.match((await queue.getJob(id))?.payloadRef ?? "", /^q\/payload\/[0-9A-Z]{26}$/);
      assert.equal((await queue.getJob(small))?.payloadRef, undefined);

      const claim = await queue.claim("work");
      assert.equal(claim?.id, id);
      assert.deepEqual(claim?.payload, Buffer.from(payload));
      await queue.nack(claim!, "again"); // a retry keeps the object
      const again = await queue.claim("work");
      assert.deepEqual(again?.payload, Buffer.from(payload));
      assert.equal((await payloadKeys(store)).length, 1);

      await queue.close();
      const info = (await QueueReader.open(store, "q")).inspection;
      assert.ok(
        (info.checkpoint?.bytes ?? 0) < 256 * KIB + 4 * KIB,
        `checkpoint of ${info.checkpoint?.bytes} bytes holds only the inline payload`,
      );
      const reader = await QueueReader.open(store, "q");
      const seen = reader.getJob(id)!;
      assert.equal(seen.payload.byteLength, 0, "readers leave it out");
      assert.deepEqual(await reader.loadPayload(seen), Buffer.from(payload));

      const reopened = await reopen();
      const claimAfter = await reopened.claim("work"); // the interrupted claim came back
      assert.equal(claimAfter?.id, id);
      assert.deepEqual(claimAfter?.payload, Buffer.from(payload));
      await reopened.ack(claimAfter!);
      assert.deepEqual(await eventually(store, 0), [], "deleted once the job is gone");
      await reopened.close();
    });

    it("a QueueReader's listJobs answers at once without payloads; listJobsLoaded reads them", async () => {
      const { queue, store } = await openOn(kind);
      const payload = big(300 * KIB);
      const id = await queue.enqueue("work", payload);
      await queue.enqueue("work", "small");
      const reader = await QueueReader.open(store, "q");
      const sizes = (jobs: { payload: Uint8Array }[]) => jobs.map((j) => j.payload.byteLength);
      // listJobs: a page, not a Promise; nothing read (default and false).
      const plain = reader.listJobs("work", "pending");
      assert.ok(!(plain instanceof Promise));
      assert.deepEqual(sizes(plain.jobs), [0, 5]);
      assert.equal(plain.jobs[0]!.payloadSize, 300 * KIB);
      assert.deepEqual(
        sizes(reader.listJobs("work", "pending", { loadPayloads: false }).jobs),
        [0, 5],
      );
      // true is refused, pointing to listJobsLoaded (typed callers may pass a boolean).
      const flag: boolean = true;
      assert.throws(
        () => reader.listJobs("work", "pending", { loadPayloads: flag }),
        (e: unknown) =>
          e instanceof InvalidArgumentError &&
          /^Expected `options\.loadPayloads` to be false or absent on a QueueReader .*, got true; use `reader\.listJobsLoaded\(\.\.\.\)`/.test(
            e.message,
          ),
      );
      const before = reader.storeRequests().counts.get;
      const loaded = await reader.listJobsLoaded("work", "pending");
      assert.equal(
        reader.storeRequests().counts.get,
        before + 1,
        "one read: the offloaded payload",
      );
      assert.equal(loaded.jobs[0]!.id, id);
      assert.deepEqual(loaded.jobs[0]!.payload, Buffer.from(payload));
      assert.equal(loaded.jobs[0]!.payloadRef, plain.jobs[0]!.payloadRef);
      assert.equal(text(loaded.jobs[1]!.payload), "small");
      assert.deepEqual(
        loaded.jobs.map((j) => j.payload),
        (await queue.listJobs("work", "pending")).jobs.map((j) => j.payload),
        "as the writer lists them",
      );
      assert.deepEqual(
        sizes((await reader.listJobsLoaded("work", "pending", { loadPayloads: true })).jobs),
        [300 * KIB, 5],
      );
      assert.deepEqual(
        sizes(reader.listJobs("work", "pending").jobs),
        [0, 5],
        "the snapshot is untouched",
      );
      // A bad argument rejects; a job removed since the reader opened is listed as it was, its
      // object reported missing, and loading its payload is a StorageError.
      await assert.rejects(
        reader.listJobsLoaded("work", "pending", { limit: 0 }),
        /Expected `options\.limit`/,
      );
      await assert.rejects(
        reader.listJobsLoaded("work", "pending", { loadPayloads: false }),
        (e: unknown) => e instanceof InvalidArgumentError,
      );
      await queue.removeJob(id);
      await eventually(store, 0);
      const after = await reader.listJobsLoaded("work", "pending");
      assert.deepEqual(sizes(after.jobs), [0, 5]);
      assert.match(after.jobs[0]!.payloadError ?? "", /is missing/);
      await assert.rejects(
        reader.loadPayload(after.jobs[0]!),
        (e: unknown) => e instanceof StorageError,
      );
      await queue.close();
    });

    it("batches offload only oversized payloads; null disables offload", async () => {
      const { queue, store } = await openOn(kind, { payloadOffloadBytes: 1_000 });
      const ids = await queue.enqueueBatch("work", [big(10), big(2_000), big(1_000), big(5_000)]);
      assert.equal((await payloadKeys(store)).length, 2);
      for (const [i, size] of [10, 2_000, 1_000, 5_000].entries())
        assert.equal((await queue.getJob(ids[i]!))?.payload.byteLength, size);
      const claims = await queue.claimBatch("work", 4);
      assert.deepEqual(
        claims.map((c) => c.payload.byteLength),
        [10, 2_000, 1_000, 5_000],
      );
      await queue.close();

      const off = await openOn(kind, { payloadOffloadBytes: null });
      await off.queue.enqueue("work", big(1024 * KIB));
      assert.equal((await payloadKeys(off.store)).length, 0);
      await off.queue.close();
    });

    it("removes the object with the job: cancel, dead retention, result retention, a dedup hit", async () => {
      const { queue, store, clock } = await openOn(kind, {
        payloadOffloadBytes: 100,
        defaultQueueConfig: { maxAttempts: 1, deadRetentionMs: 1_000, resultRetentionMs: 1_000 },
      });
      const cancelled = await queue.enqueue("work", big(200));
      assert.equal(await queue.cancel(cancelled), "removed");
      await eventually(store, 0);
      const first = await queue.enqueue("work", big(200), { dedupKey: "k" });
      const dup = await queue.enqueue("work", big(300), { dedupKey: "k" });
      assert.equal(dup, first);
      assert.equal((await eventually(store, 1)).length, 1, "the duplicate's object is gone");
      await queue.nack((await queue.claim("work"))!, "dead"); // maxAttempts 1: dead
      await queue.enqueue("work", big(200));
      await queue.ack((await queue.claim("work"))!, { result: "r" });
      assert.equal((await payloadKeys(store)).length, 2, "dead and done-with-result keep theirs");
      clock.advance(1_001);
      await queue.reapNow();
      assert.deepEqual(await eventually(store, 0), []);
      await queue.close();
    });

    it("a transaction or flow that fails after offloading deletes every object it wrote", async () => {
      const { queue, store } = await openOn(kind, { payloadOffloadBytes: 100 });
      await queue.kvPut("k", "v");
      await queue.enqueue("work", "small", { jobId: "taken" });
      // The offloaded enqueue is decided before the operation that fails.
      await assert.rejects(
        queue.transaction((tx) => {
          tx.enqueue("work", big(200));
          tx.kvCheck("k", "other");
        }),
        { code: "CONFLICT" },
      );
      assert.deepEqual(await eventually(store, 0), [], "a conflict's object");
      await assert.rejects(
        queue.enqueueFlow({
          queue: "parent",
          payload: big(300),
          children: [{ queue: "work", payload: "child", options: { jobId: "taken" } }],
        }),
        { code: "DUPLICATE_JOB_ID" },
      );
      assert.deepEqual(await eventually(store, 0), [], "a refused flow's object");
      const claim = (await queue.claim("work"))!;
      await queue.ack(claim);
      await assert.rejects(
        queue.transaction((tx) => {
          tx.enqueue("work", big(400));
          tx.ack(claim);
        }),
        { code: "CLAIM_LOST" },
      );
      assert.deepEqual(await eventually(store, 0), [], "a lost claim's transaction's object");

      // A committed transaction keeps the objects its jobs use, and only those.
      const first = await queue.enqueue("work", big(200, 1), { dedupKey: "d" });
      const { enqueued } = await queue.transaction((tx) => {
        tx.enqueue("work", big(200, 2));
        tx.enqueue("work", big(200, 3), { dedupKey: "d" }); // a hit: its object goes
      });
      assert.deepEqual(
        enqueued.map((e) => e.created),
        [true, false],
      );
      assert.equal((await eventually(store, 2)).length, 2);
      assert.deepEqual((await queue.getJob(first))?.payload, Buffer.from(big(200, 1)));
      assert.deepEqual((await queue.getJob(enqueued[0]!.id))?.payload, Buffer.from(big(200, 2)));
      await queue.close();
    });

    it("a debounce's payload above the threshold stays offloaded: a new object the job references, through replay, checkpoint and orphan collection", async () => {
      const { queue, store, clock, reopen } = await openOn(kind, { payloadOffloadBytes: 100 });
      const id = await queue.enqueue("work", big(200, 1), { dedupKey: "k", delayMs: 60_000 });
      const [first] = await payloadKeys(store);
      const before = queue.logStats().bytesWritten;
      const replacing = { dedupKey: "k", dedupReplace: true, delayMs: 60_000 };
      assert.equal(await queue.enqueue("work", big(64 * KIB, 2), replacing), id);
      const logged = queue.logStats().bytesWritten - before;
      assert.ok(logged < KIB, `the log got ${logged} bytes: a reference, not the payload`);
      const ref = (await queue.getJob(id))?.payloadRef;
      assert.ok(ref !== undefined && ref !== first, "the job references a new object");
      assert.deepEqual(await eventually(store, 1), [ref], "the replaced object is deleted");
      assert.deepEqual((await queue.getJob(id))?.payload, Buffer.from(big(64 * KIB, 2)));

      // A second process takes over: it replays the replace record.
      const taken = await reopen();
      assert.equal((await taken.getJob(id))?.payloadRef, ref);
      assert.deepEqual((await taken.getJob(id))?.payload, Buffer.from(big(64 * KIB, 2)));
      await taken.close();
      await queue.close().catch(() => undefined);
      const info = (await QueueReader.open(store, "q")).inspection;
      assert.ok(
        (info.checkpoint?.bytes ?? 0) < 2 * KIB,
        `checkpoint of ${info.checkpoint?.bytes} bytes holds a reference only`,
      );

      // Much later, a reopen collects orphans: the job's object is not one.
      clock.advance(ORPHAN_MIN_AGE_MS + 60_000);
      const orphan = `q/payload/${ulid(clock.now() - ORPHAN_MIN_AGE_MS - 1_000)}`;
      await store.put(orphan, big(20));
      const reopened = await reopen();
      assert.deepEqual(
        await eventually(store, 1),
        [ref],
        "the orphan goes, the job's object stays",
      );
      await reopened.promoteScheduledNow();
      const claim = await reopened.claim("work");
      assert.equal(claim?.id, id);
      assert.deepEqual(claim?.payload, Buffer.from(big(64 * KIB, 2)));
      await reopened.ack(claim!);
      assert.deepEqual(await eventually(store, 0), []);
      await reopened.close();
    });

    it("debounces within one enqueueMany keep the last payload offloaded and one object per job", async () => {
      const { queue, store } = await openOn(kind, { payloadOffloadBytes: 100 });
      const held = await queue.enqueue("work", big(200, 1), { dedupKey: "k" });
      const replace = (dedupKey: string) => ({ dedupKey, dedupReplace: true });
      const results = await queue.enqueueMany("work", [
        { payload: big(300, 2), options: replace("k") },
        { payload: big(400, 3), options: replace("k") },
        { payload: big(500, 4), options: replace("n") },
        { payload: big(600, 5), options: replace("n") },
      ]);
      const fresh = results[2]!.id;
      assert.deepEqual(
        results.map((r) => [r.id, r.created]),
        [
          [held, false],
          [held, false],
          [fresh, true],
          [fresh, false],
        ],
      );
      const refs = [
        (await queue.getJob(held))?.payloadRef,
        (await queue.getJob(fresh))?.payloadRef,
      ];
      assert.deepEqual(await eventually(store, 2), [...refs].sort());
      assert.deepEqual((await queue.getJob(held))?.payload, Buffer.from(big(400, 3)));
      assert.deepEqual((await queue.getJob(fresh))?.payload, Buffer.from(big(600, 5)));
      await queue.close();
    });

    it("debounces of one key not awaited, offloaded or not, end with the last call's payload", async () => {
      const { queue, store } = await openOn(kind, { payloadOffloadBytes: 1000 });
      const opts = { dedupKey: "doc", dedupReplace: true, delayMs: 60_000 };
      const id = await queue.enqueue("work", "v0", opts);
      const payloadOf = async () => text((await queue.getJob(id))?.payload)?.replace(/x+$/, "");
      // A small one called after a big one, whose object is still being written.
      const pair = [
        queue.enqueue("work", "big".padEnd(5000, "x"), opts),
        queue.enqueue("work", "small", opts),
      ];
      assert.deepEqual(await Promise.all(pair), [id, id]);
      assert.equal(await payloadOf(), "small");
      // A burst alternating small and big (of growing sizes: later writes take longer).
      const burst: Promise<string>[] = [];
      for (let i = 0; i < 200; i++)
        burst.push(
          queue.enqueue("work", i % 2 === 0 ? `v${i}` : `v${i}`.padEnd(2000 + i * 1500, "x"), opts),
        );
      assert.ok((await Promise.all(burst)).every((got) => got === id));
      assert.equal(await payloadOf(), "v199");
      assert.equal((await eventually(store, 1)).length, 1);
      await queue.close();
    });

    it("rejects a bad payloadOffloadBytes before touching the store", async () => {
      const store = await kind.make();
      for (const bad of [-1, 1.5, "1", Number.NaN]) {
        await assert.rejects(
          Queue.open(store, "q", { payloadOffloadBytes: bad as number, logger: silentLogger }),
          /Expected `options\.payloadOffloadBytes` to be/,
        );
      }
      assert.deepEqual((await store.list("")).objects, []);
    });
  });
}

/** Store errors are retried for 50 ms at most, so a failure that persists fails fast. */
const SHORT_RETRY = { retry: { baseDelayMs: 1, maxDelayMs: 5, maxElapsedMs: 50 } };

describe("payload offload under faults and crashes", { timeout: 120_000 }, () => {
  it("a failed object write fails the enqueue (after retries) and leaves no job and no object; a transient failure is retried", async () => {
    const faults = new FaultStore(new MemoryStore());
    const queue = await Queue.open(faults, "q", {
      logger: silentLogger,
      payloadOffloadBytes: 10,
      log: SHORT_RETRY,
    });
    const stop = faults.addRule({ op: "put", keyPrefix: "q/payload/", mode: "before" });
    await assert.rejects(queue.enqueue("work", big(100)));
    await assert.rejects(queue.enqueueBatch("work", [big(5), big(100)]));
    stop();
    assert.equal((await queue.stats("work")).pending, 0);
    assert.deepEqual(await payloadKeys(faults), []);
    // A write that stored the object but reported failure is retried, finds its object, and the
    // enqueue goes on; one that fails once before taking effect is retried too.
    faults.addRule({ op: "put", keyPrefix: "q/payload/", mode: "after", times: 1 });
    const id = await queue.enqueue("work", big(100));
    faults.addRule({ op: "put", keyPrefix: "q/payload/", mode: "before", times: 1 });
    const other = await queue.enqueue("work", big(120));
    assert.equal((await queue.stats("work")).pending, 2);
    assert.equal((await payloadKeys(faults)).length, 2);
    assert.equal((await queue.getJob(id))?.payload.byteLength, 100);
    assert.equal((await queue.getJob(other))?.payload.byteLength, 120);
    await queue.close();
  });

  it("a first write answered `exists` (the store client retried a request whose reply was lost) is ours when it holds our bytes", async () => {
    const faults = new FaultStore(new MemoryStore());
    const queue = await Queue.open(faults, "q", {
      logger: silentLogger,
      payloadOffloadBytes: 10,
      log: SHORT_RETRY,
    });
    // The object is stored, and the one attempt the queue sees is told it exists.
    faults.addRule({
      op: "put",
      keyPrefix: "q/payload/",
      mode: "after",
      times: 1,
      error: () => new ObjectExistsError("q/payload/…"),
    });
    const id = await queue.enqueue("work", big(100));
    assert.deepEqual(Uint8Array.from((await queue.getJob(id))!.payload), big(100));
    // Another object in the slot (not our bytes) is not taken for ours: the write fails.
    const original = faults.put.bind(faults);
    faults.put = async (key: string, body: Uint8Array, options?: PutOptions) => {
      if (key.startsWith("q/payload/")) {
        await original(key, new Uint8Array(body.byteLength), {});
        throw new ObjectExistsError(key);
      }
      return original(key, body, options);
    };
    await assert.rejects(
      queue.enqueue("work", big(100, 9)),
      (error: unknown) =>
        error instanceof StorageError && error.permanent && /with other bytes/.test(error.message),
    );
    // A retry told `exists` of an object that is not there (a failed first attempt that wrote
    // nothing, then a store's conflict that meant something else) is not taken as written: the
    // write tries again and stores the object.
    let refusals = 0;
    faults.put = async (key: string, body: Uint8Array, options?: PutOptions) => {
      if (key.startsWith("q/payload/") && refusals < 2) {
        refusals++;
        if (refusals === 1) throw new StorageError("connection reset");
        throw new ObjectExistsError(key);
      }
      return original(key, body, options);
    };
    const retried = await queue.enqueue("work", big(100, 11));
    faults.put = original;
    assert.equal(refusals, 2);
    assert.deepEqual(Uint8Array.from((await queue.getJob(retried))!.payload), big(100, 11));
    assert.equal((await queue.stats("work")).pending, 2);
    await queue.close();
  });

  it("an enqueue whose log write certainly failed deletes the objects it wrote; one in doubt keeps them", async () => {
    const refused = () => new StorageError("refused for good", { permanent: true });
    const calls: [string, (queue: Queue) => Promise<unknown>][] = [
      ["enqueue", (queue) => queue.enqueue("work", big(100))],
      [
        "enqueueMany",
        (queue) => queue.enqueueMany("work", [{ payload: big(100) }, { payload: big(5) }]),
      ],
      ["transaction", (queue) => queue.transaction((tx) => tx.enqueue("work", big(100)))],
      [
        "flow",
        (queue) =>
          queue.enqueueFlow({
            queue: "parent",
            payload: big(100),
            children: [{ queue: "work", payload: big(110) }],
          }),
      ],
      [
        "debounce",
        (queue) => queue.enqueue("work", big(100, 2), { dedupKey: "k", dedupReplace: true }),
      ],
    ];
    for (const [what, call] of calls) {
      for (const certain of [true, false]) {
        const faults = new FaultStore(new MemoryStore());
        const queue = await Queue.open(faults, "q", {
          logger: silentLogger,
          payloadOffloadBytes: 10,
          log: SHORT_RETRY,
        });
        // The job a debounce replaces: its object must stay while the replacement is not durable.
        const holder = await queue.enqueue("work", big(100, 1), { dedupKey: "k" });
        const kept = (await queue.getJob(holder))?.payloadRef;
        faults.addRule({
          op: "put",
          keyPrefix: "q/wal/",
          mode: "before",
          ...(certain ? { error: refused } : {}),
        });
        const error = await rejection(call(queue));
        assert.equal(error.code, "STORAGE", what);
        assert.equal((error as StorageError).inDoubt, !certain, what);
        if (certain)
          assert.deepEqual(
            await eventually(faults, 1),
            [kept],
            `${what}: only the holder's object is left`,
          );
        else {
          await turns(20);
          assert.ok((await payloadKeys(faults)).length > 1, `${what}: in doubt, its objects stay`);
        }
        await queue.close().catch(() => undefined);
      }
    }
  });

  it("writes and reads at most PAYLOAD_REQUESTS_IN_FLIGHT payload objects at once; fewer start at once", async () => {
    const faults = new FaultStore(new MemoryStore());
    const queue = await Queue.open(faults, "q", { logger: silentLogger, payloadOffloadBytes: 10 });
    const jobs = Array.from({ length: 3 * PAYLOAD_REQUESTS_IN_FLIGHT }, (_, i) => ({
      payload: big(100, i),
    }));
    const puts = faults.pause({ op: "put", keyPrefix: "q/payload/" });
    const added = queue.enqueueMany("work", jobs);
    await puts.whenHeld(PAYLOAD_REQUESTS_IN_FLIGHT);
    await turns(20);
    assert.equal(puts.held(), PAYLOAD_REQUESTS_IN_FLIGHT);
    puts.release();
    assert.equal((await added).length, jobs.length);

    const gets = faults.pause({ op: "get", keyPrefix: "q/payload/" });
    const claimed = queue.claimBatch("work", jobs.length);
    await gets.whenHeld(PAYLOAD_REQUESTS_IN_FLIGHT);
    await turns(20);
    assert.equal(gets.held(), PAYLOAD_REQUESTS_IN_FLIGHT);
    gets.release();
    const claims = await claimed;
    assert.deepEqual(
      claims.map((c) => c.payload),
      jobs.map((j) => Buffer.from(j.payload)),
    );

    const few = faults.pause({ op: "put", keyPrefix: "q/payload/" });
    const small = queue.enqueueMany("work", jobs.slice(0, 10));
    await few.whenHeld(10);
    few.release();
    assert.equal((await small).length, 10);
    await queue.close();
  });

  it("bounds each call's payload requests apart: a small call never waits behind a large enqueueMany or claimBatch", async () => {
    // Holds the payload puts of 200-byte payloads, and the payload gets of any key but `free`.
    const inner = new MemoryStore();
    let release!: () => void;
    let gate!: Promise<void>;
    const closeGate = () => {
      gate = new Promise<void>((resolve) => {
        release = resolve;
      });
    };
    closeGate();
    let holdGets = false;
    let free = "";
    let held = 0;
    const store = new Proxy(inner, {
      get(target, prop) {
        if (prop === "put")
          return async (key: string, body: Uint8Array, options?: PutOptions) => {
            if (key.startsWith("q/payload/") && body.byteLength === 200 + PAYLOAD_TRAILER_BYTES) {
              held++;
              await gate;
            }
            return target.put(key, body, options);
          };
        if (prop === "get")
          return async (key: string) => {
            if (holdGets && key.startsWith("q/payload/") && key !== free) {
              held++;
              await gate;
            }
            return target.get(key);
          };
        const value: unknown = Reflect.get(target, prop, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const queue = await Queue.open(store, "q", { logger: silentLogger, payloadOffloadBytes: 10 });
    const settledSoon = async (call: Promise<unknown>) => {
      for (let i = 0; i < 200; i++) {
        if (await Promise.race([call.then(() => true), turns(1).then(() => false)])) return true;
      }
      return false;
    };
    const many = Array.from({ length: 3 * PAYLOAD_REQUESTS_IN_FLIGHT }, (_, i) => ({
      payload: big(200, i),
    }));
    const added = queue.enqueueMany("work", many);
    while (held < PAYLOAD_REQUESTS_IN_FLIGHT) await turns(1);
    // Another call's write while the big call's first 64 are held and 128 wait their turn.
    const enqueued = queue.enqueue("other", big(100));
    assert.ok(await settledSoon(enqueued), "enqueue did not wait behind the enqueueMany's writes");
    const id = await enqueued;
    assert.ok(await settledSoon(queue.transaction((tx) => tx.enqueue("other", big(100)))));
    assert.equal(held, PAYLOAD_REQUESTS_IN_FLIGHT, "the big call's writes are still held");
    release();
    assert.equal((await added).length, many.length);

    free = (await queue.getJob(id))!.payloadRef!;
    closeGate();
    held = 0;
    holdGets = true;
    const claimed = queue.claimBatch("work", many.length);
    while (held < PAYLOAD_REQUESTS_IN_FLIGHT) await turns(1);
    const read = queue.getJob(id);
    assert.ok(await settledSoon(read), "getJob did not wait behind the claimBatch's reads");
    assert.deepEqual((await read)?.payload, Buffer.from(big(100)));
    assert.equal(held, PAYLOAD_REQUESTS_IN_FLIGHT);
    holdGets = false;
    release();
    assert.equal((await claimed).length, many.length);
    await queue.close();
  });

  it("orphans older than the minimum age are collected at open; young and referenced objects stay", async () => {
    const store = new MemoryStore();
    const queue = await Queue.open(store, "q", { logger: silentLogger, payloadOffloadBytes: 10 });
    const id = await queue.enqueue("work", big(100));
    const now = Date.now();
    const old = `q/payload/${ulid(now - ORPHAN_MIN_AGE_MS - 1_000)}`;
    const young = `q/payload/${ulid(now - 1_000)}`;
    await store.put(old, big(20));
    await store.put(young, big(20));
    await queue.close();
    const again = await Queue.open(store, "q", { logger: silentLogger, payloadOffloadBytes: 10 });
    const keys = await eventually(store, 2);
    assert.ok(!keys.includes(old), "the old orphan is gone");
    assert.ok(keys.includes(young), "a young one may belong to an enqueue in flight");
    assert.equal((await again.getJob(id))?.payload.byteLength, 100);
    await again.close();
  });

  it("the orphan collector leaves the object of a removal whose log write is not durable yet (it may fail)", async () => {
    const inner = new MemoryStore();
    const faults = new FaultStore(inner);
    const clock = new ManualClock(1_700_000_000_000);
    const opts = {
      clock,
      logger: silentLogger,
      payloadOffloadBytes: 10,
      flushIntervalMs: 0,
      log: { retry: { baseDelayMs: 1, maxDelayMs: 5, maxElapsedMs: 50 } },
    };
    const first = await Queue.open(faults, "q", opts);
    const id = await first.enqueue("work", big(100, 1), { dedupKey: "k", delayMs: 3_600_000 });
    await first.close();
    clock.advance(ORPHAN_MIN_AGE_MS + 60_000); // the holder's object is old enough to collect
    const listing = faults.pause({ op: "list", keyPrefix: "q/payload/" });
    const queue = await Queue.open(faults, "q", opts);
    await listing.whenHeld(1);
    // A debounce replaces the holder's payload in the state; its log write is held.
    const wal = faults.pause({ op: "put", keyPrefix: "q/wal/" });
    const debounce = rejection(
      queue.enqueue("work", big(100, 2), { dedupKey: "k", dedupReplace: true }),
    );
    await wal.whenHeld(1);
    listing.release();
    await turns(20); // the collector runs meanwhile
    faults.addRule({
      op: "put",
      keyPrefix: "q/wal/",
      mode: "before",
      error: () => new StorageError("refused", { permanent: true }),
    });
    wal.release();
    const error = (await debounce) as StorageError;
    assert.equal(error.inDoubt, false, "the replace was certainly not written");
    faults.clearRules();
    await queue.close().catch(() => {});
    const reopened = await Queue.open(inner, "q", opts);
    assert.deepEqual((await reopened.getJob(id))?.payload, Buffer.from(big(100, 1)));
    await reopened.close();
  });

  it("the orphan collector leaves an enqueue's object written after the wall clock stepped back", async () => {
    const inner = new MemoryStore();
    const faults = new FaultStore(inner);
    const clock = new ManualClock(1_700_000_000_000);
    const opts = { clock, logger: silentLogger, payloadOffloadBytes: 10, flushIntervalMs: 0 };
    const first = await Queue.open(faults, "q", opts);
    await first.enqueue("work", big(100, 1));
    await first.close();
    const listing = faults.pause({ op: "list", keyPrefix: "q/payload/" });
    const queue = await Queue.open(faults, "q", opts);
    await listing.whenHeld(1);
    // The host's clock is set back (NTP, an operator): the next object's name carries a time
    // older than the collector's minimum age, though it is being written right now.
    clock.advance(-2 * ORPHAN_MIN_AGE_MS);
    const written = faults.pause({ op: "put", keyPrefix: "q/payload/", mode: "after" });
    const enqueued = queue.enqueue("work", big(100, 2));
    await written.whenHeld(1);
    listing.release();
    await turns(20); // the collector runs meanwhile
    written.release();
    const id = await enqueued;
    assert.deepEqual((await queue.getJob(id))?.payload, Buffer.from(big(100, 2)));
    await queue.close();
  });

  it("a failed delete leaves the object for the collector, never a job without its payload", async () => {
    const faults = new FaultStore(new MemoryStore());
    const queue = await Queue.open(faults, "q", {
      logger: silentLogger,
      payloadOffloadBytes: 10,
      log: SHORT_RETRY,
    });
    const stop = faults.addRule({ op: "delete", keyPrefix: "q/payload/", mode: "before" });
    await queue.enqueue("work", big(100));
    await queue.ack((await queue.claim("work"))!);
    await turns(10);
    assert.equal((await payloadKeys(faults)).length, 1);
    stop();
    await queue.close();
  });

  it("a read racing the removal of an offloaded job answers without it instead of failing", async () => {
    const faults = new FaultStore(new MemoryStore());
    const queue = await Queue.open(faults, "q", { logger: silentLogger, payloadOffloadBytes: 10 });
    const gone = await queue.enqueue("work", big(100, 1));
    const stays = await queue.enqueue("work", big(100, 2));
    const claims = await queue.claimBatch("work", 2);
    assert.equal(claims.length, 2);
    const held = faults.pause({ op: "get", keyPrefix: "q/payload/" });
    const listing = queue.listJobs("work", "claimed");
    const dead = queue.deadJobs("work");
    const read = queue.getJob(gone);
    await held.whenHeld(3);
    // The ack removes the job; its object is deleted once that is durable.
    await queue.ack(claims.find((c) => c.id === gone)!);
    await eventually(faults, 1);
    held.release();
    const page = await listing;
    assert.deepEqual(
      page.jobs.map((j) => j.id),
      [stays],
      "the removed job is left out, the other keeps its payload",
    );
    assert.deepEqual(page.jobs[0]!.payload, Buffer.from(big(100, 2)));
    assert.equal(await read, null, "getJob answers as after the removal");
    assert.deepEqual(await dead, []);
    await queue.close();
  });

  it("a read racing a debounce that replaced an offloaded payload answers with the new payload", async () => {
    const faults = new FaultStore(new MemoryStore());
    const queue = await Queue.open(faults, "q", { logger: silentLogger, payloadOffloadBytes: 10 });
    const id = await queue.enqueue("work", big(100, 1), { dedupKey: "k" });
    const held = faults.pause({ op: "get", keyPrefix: "q/payload/" });
    const read = queue.getJob(id);
    const listing = queue.listJobs("work", "pending");
    await held.whenHeld(2);
    await queue.enqueue("work", "new", { dedupKey: "k", dedupReplace: true });
    await eventually(faults, 0);
    held.release();
    assert.equal(
      text((await read)?.payload),
      "new",
      "the job is still there, with its new payload",
    );
    assert.deepEqual(
      (await listing).jobs.map((j) => [j.id, text(j.payload)]),
      [[id, "new"]],
    );
    await queue.close();
  });

  it("a payload object deleted behind the queue's back fails that attempt, not the claim or the worker", async () => {
    const store = new MemoryStore();
    const queue = await Queue.open(store, "q", {
      logger: silentLogger,
      payloadOffloadBytes: 10,
      defaultQueueConfig: { maxAttempts: 2, retryBackoffBaseMs: 0 },
    });
    const lost = await queue.enqueue("work", big(100));
    const fine = await queue.enqueue("work", "small");
    await store.delete((await queue.getJob(lost))!.payloadRef!);
    const [key] = await payloadKeys(store);
    assert.equal(key, undefined, "the object is gone");
    const claims = await queue.claimBatch("work", 10);
    assert.deepEqual(
      claims.map((c) => c.id),
      [fine],
      "the unreadable job is not handed out",
    );
    await turns(5);
    const history = await queue.attemptHistory(lost);
    assert.equal(history[0]?.outcome, "retried");
    assert.match(history[0]?.error ?? "", /payload unreadable: payload object .* is missing/);
    await queue.close();
  });

  it("an acknowledged enqueue's offloaded payload survives SIGKILL", async () => {
    const dir = await tempDir();
    const [said] = (await runAndKill(dir, "offload", 600 * KIB)) as { ids: string[] }[];
    const queue = await Queue.open(new FileStore(dir, { fsync: false }), "q", {
      logger: silentLogger,
    });
    const claims = await queue.claimBatch("work", 10);
    assert.deepEqual(
      claims.map((c) => c.id),
      said!.ids,
    );
    for (const claim of claims) assert.deepEqual(claim.payload, Buffer.from(big(600 * KIB)));
    await queue.close();
  });
});
