import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { crc32 } from "node:zlib";
import { ManualClock } from "../../src/clock.js";
import { CorruptionError, StorageError } from "../../src/errors.js";
import { silentLogger } from "../../src/logger.js";
import { PAYLOAD_TRAILER_BYTES } from "../../src/queue/payload-object.js";
import { Queue } from "../../src/queue/queue.js";
import { QueueReader } from "../../src/queue/reader.js";
import { MemoryStore } from "../../src/store/memory.js";
import type { ObjectStore, StoredObject } from "../../src/store/types.js";
import { runWorker } from "../../src/worker/run-worker.js";
import { recordingLogger } from "../recording-logger.js";
import { until } from "../until.js";
import { rejection, turns, watch } from "./helpers.js";

function bytes(size: number, seed: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i++) out[i] = (i * 31 + seed) & 0xff;
  return out;
}

async function body(store: ObjectStore, key: string): Promise<Uint8Array> {
  const object = await store.get(key);
  assert.ok(object !== null, `object "${key}" exists`);
  return Uint8Array.from(object.body);
}

/** A property of the proxied store, its methods bound to it (they use private fields). */
function bound(target: MemoryStore, property: string | symbol): unknown {
  const value: unknown = Reflect.get(target, property);
  return typeof value === "function" ? value.bind(target) : value;
}

const OPTIONS = {
  logger: silentLogger,
  payloadOffloadBytes: 10,
  defaultQueueConfig: { maxAttempts: 2, retryBackoffBaseMs: 0 },
} as const;

describe("offloaded payload integrity", () => {
  it("a payload object is the payload and a checksum trailer; a bit flip, a truncation or a damaged trailer is a CorruptionError naming the object", async () => {
    const store = new MemoryStore();
    const queue = await Queue.open(store, "q", OPTIONS);
    const ids = {
      flipped: await queue.enqueue("work", bytes(1000, 1), { jobId: "flipped" }),
      truncated: await queue.enqueue("work", bytes(1000, 2), { jobId: "truncated" }),
      trailer: await queue.enqueue("work", bytes(1000, 3), { jobId: "trailer" }),
      intact: await queue.enqueue("work", bytes(1000, 4), { jobId: "intact" }),
    };
    const keyOf = async (id: string) => (await queue.getJob(id))!.payloadRef!;
    const intact = await body(store, await keyOf(ids.intact));
    assert.equal(intact.byteLength, 1000 + PAYLOAD_TRAILER_BYTES);
    assert.deepEqual(intact.subarray(0, 1000), bytes(1000, 4));

    const flippedKey = await keyOf(ids.flipped);
    const flipped = await body(store, flippedKey);
    flipped[500]! ^= 0x01;
    await store.put(flippedKey, flipped);
    const truncatedKey = await keyOf(ids.truncated);
    await store.put(truncatedKey, (await body(store, truncatedKey)).subarray(0, 10));
    const trailerKey = await keyOf(ids.trailer);
    const trailer = await body(store, trailerKey);
    trailer[1000]! ^= 0xff; // the magic number
    await store.put(trailerKey, trailer);

    for (const [id, key, reason] of [
      [ids.flipped, flippedKey, /checksum mismatch/],
      [ids.truncated, truncatedKey, /is 10 bytes, expected 1000 \+ 8/],
      [ids.trailer, trailerKey, /trailer is damaged/],
    ] as const) {
      const error = await rejection(queue.getJob(id));
      assert.ok(error instanceof CorruptionError, `${id}: ${String(error)}`);
      assert.equal(error.objectKey, key);
      assert.match(error.message, reason);
    }
    assert.deepEqual((await queue.getJob(ids.intact))?.payload, Buffer.from(bytes(1000, 4)));

    // A claim hands out only the intact job; the damaged ones are dead-lettered at once.
    const claims = await queue.claimBatch("work", 10);
    assert.deepEqual(
      claims.map((c) => c.id),
      [ids.intact],
    );
    assert.deepEqual(claims[0]?.payload, Buffer.from(bytes(1000, 4)));
    await turns(5);
    const history = await queue.attemptHistory(ids.flipped);
    assert.equal(history[0]?.outcome, "dead_lettered");
    assert.equal((await queue.stats("work")).dead, 3);
    assert.match(
      history[0]?.error ?? "",
      /payload unreadable: corrupt object ".*": payload object checksum mismatch/,
    );
    await queue.close();

    const reader = await QueueReader.open(store, "q");
    const job = reader.getJob(ids.flipped)!;
    assert.ok((await rejection(reader.loadPayload(job))) instanceof CorruptionError);
    assert.deepEqual((await reader.loadJob(ids.intact))?.payload, Buffer.from(bytes(1000, 4)));
  });

  it("an object written before payload checksums (exactly the payload's size) reads as it is", async () => {
    const store = new MemoryStore();
    const queue = await Queue.open(store, "q", OPTIONS);
    const id = await queue.enqueue("work", bytes(1000, 5));
    const key = (await queue.getJob(id))!.payloadRef!;
    // What an older version wrote: the bytes alone.
    await store.put(key, (await body(store, key)).subarray(0, 1000));
    await queue.close();

    const reopened = await Queue.open(store, "q", OPTIONS);
    assert.deepEqual((await reopened.getJob(id))?.payload, Buffer.from(bytes(1000, 5)));
    assert.deepEqual((await reopened.claim("work"))?.payload, Buffer.from(bytes(1000, 5)));
    await reopened.close();
  });

  it("with the size unknown (a record without payloadSize), an old object whose last bytes look like a trailer reads whole", async () => {
    // An old object (the payload alone) that happens to end in the trailer magic and
    // the CRC32 of the bytes before it: only the size can tell it from a new one.
    const payload = bytes(5000, 6);
    const view = new DataView(payload.buffer, payload.byteLength - PAYLOAD_TRAILER_BYTES);
    view.setUint32(0, 0x54515031); // "TQP1"
    view.setUint32(4, crc32(payload.subarray(0, payload.byteLength - PAYLOAD_TRAILER_BYTES)));
    const store = new MemoryStore();
    const queue = await Queue.open(store, "q", OPTIONS);
    const id = await queue.enqueue("work", payload);
    const key = (await queue.getJob(id))!.payloadRef!;
    await store.put(key, payload);
    await queue.close();

    const reader = await QueueReader.open(store, "q");
    const job = reader.getJob(id)!;
    assert.deepEqual(await reader.loadPayload(job), Buffer.from(payload));
    const { payloadSize: _size, ...withoutSize } = job;
    assert.deepEqual(await reader.loadPayload(withoutSize), Buffer.from(payload));
  });

  describe("a claim that meets a damaged payload object goes on to the next job", () => {
    async function damagedFirst(logger = silentLogger) {
      const store = new MemoryStore();
      const queue = await Queue.open(store, "q", { ...OPTIONS, logger });
      const damaged = await queue.enqueue("work", bytes(1000, 7), { jobId: "damaged" });
      const next = await queue.enqueue("work", bytes(1000, 8), { jobId: "next" });
      const key = (await queue.getJob(damaged))!.payloadRef!;
      const flipped = await body(store, key);
      flipped[10]! ^= 0x01;
      await store.put(key, flipped);
      return { store, queue, damaged, next, key };
    }

    it("claim: the damaged job is dead-lettered (one warning naming job and object, a dead event) and the claim returns the next job", async () => {
      const logger = recordingLogger();
      const { queue, damaged, next, key } = await damagedFirst(logger);
      const dead: { id: string; error: string }[] = [];
      queue.on("dead", (event) => dead.push(event));
      const claim = await queue.claim("work");
      assert.equal(claim?.id, next);
      assert.deepEqual(claim?.payload, Buffer.from(bytes(1000, 8)));
      await turns(5);
      const warnings = logger.messages("warn");
      assert.equal(warnings.length, 1, warnings.join("\n"));
      assert.ok(warnings[0]!.includes(`job ${damaged}`), warnings[0]);
      assert.ok(warnings[0]!.includes(key), warnings[0]);
      assert.match(warnings[0]!, /dead-lettered/);
      assert.deepEqual(
        dead.map((e) => e.id),
        [damaged],
      );
      assert.ok(dead[0]!.error.includes(key), dead[0]!.error);
      assert.equal((await queue.stats("work")).dead, 1);
      const history = await queue.attemptHistory(damaged);
      assert.deepEqual(
        history.map((a) => [a.attempt, a.outcome]),
        [[1, "dead_lettered"]],
        "dead after its first attempt, not retried",
      );
      await queue.close();
    });

    it("claimBatch fills the batch with the jobs after the damaged one", async () => {
      const { queue, damaged, next } = await damagedFirst();
      const third = await queue.enqueue("work", "small", { jobId: "third" });
      const claims = await queue.claimBatch("work", 2);
      assert.deepEqual(
        claims.map((c) => c.id),
        [next, third],
      );
      await turns(5);
      assert.equal((await queue.stats("work")).dead, 1);
      assert.equal((await queue.attemptHistory(damaged))[0]?.outcome, "dead_lettered");
      await queue.close();
    });

    it("a job dead-lettered for its damaged object does not use up the rate limit: with one claim a window the claim gets the next job", async () => {
      const clock = new ManualClock();
      const store = new MemoryStore();
      const queue = await Queue.open(store, "q", {
        ...OPTIONS,
        clock,
        queueConfigs: { work: { rateLimit: { max: 1, perMs: 60_000 } } },
      });
      const damaged = await queue.enqueue("work", bytes(1000, 13), { jobId: "damaged" });
      const next = await queue.enqueue("work", bytes(1000, 14), { jobId: "next" });
      const third = await queue.enqueue("work", "small", { jobId: "third" });
      const key = (await queue.getJob(damaged))!.payloadRef!;
      const flipped = await body(store, key);
      flipped[10]! ^= 0x01;
      await store.put(key, flipped);

      const claim = await queue.claim("work");
      assert.equal(claim?.id, next, "the refill found the window's budget unspent");
      await turns(5);
      assert.equal((await queue.stats("work")).dead, 1);
      await queue.ack(claim!);
      // `next` used the window's one claim.
      assert.equal(await queue.claim("work"), null);
      clock.advance(59_999);
      assert.equal(await queue.claim("work"), null);
      clock.advance(1);
      assert.equal((await queue.claim("work"))?.id, third);
      await queue.close();
    });

    it("a waiting claim and a worker get the next job", async () => {
      const { queue, next } = await damagedFirst();
      const claim = await queue.claim("work", { waitMs: 1000 });
      assert.equal(claim?.id, next);
      await queue.release(claim!);
      const handled: string[] = [];
      const stop = new AbortController();
      await runWorker(
        queue,
        "work",
        (job) => {
          handled.push(job.id);
          stop.abort();
        },
        { signal: stop.signal, logger: silentLogger },
      );
      assert.deepEqual(handled, [next]);
      await queue.close();
    });
  });

  describe("a waiting claim whose jobs were all lost to damaged payload objects waits on for the rest of its waitMs", () => {
    /** A store whose payload reads come back with a flipped byte while `control.damage` is set. */
    async function damagingPayloads() {
      const inner = new MemoryStore();
      const control = { damage: false };
      const store: ObjectStore = new Proxy(inner, {
        get(target, property) {
          if (property !== "get") return bound(target, property);
          return async (key: string): Promise<StoredObject | null> => {
            const object = await target.get(key);
            if (!control.damage || object === null || !key.includes("/payload/")) return object;
            const body = Uint8Array.from(object.body);
            body[0]! ^= 0x01;
            return { ...object, body };
          };
        },
      });
      const clock = new ManualClock();
      const queue = await Queue.open(store, "q", { ...OPTIONS, clock });
      return { queue, clock, control };
    }

    it("served by dispatch: a job arriving later in its wait is handed to it", async () => {
      const { queue, clock, control } = await damagingPayloads();
      const waiting = queue.claim("work", { waitMs: 1_000 });
      const state = watch(waiting);
      await turns(5);
      control.damage = true;
      await queue.enqueue("work", bytes(1000, 15), { jobId: "damaged" });
      await until(async () => (await queue.stats("work")).dead === 1, "dead-lettered");
      await turns(20);
      assert.equal(state.settled(), false, "still waiting once the damaged job is dead");
      control.damage = false;
      clock.advance(600);
      await turns(5);
      assert.equal(state.settled(), false);
      const next = await queue.enqueue("work", bytes(1000, 16), { jobId: "next" });
      const claim = await waiting;
      assert.equal(claim?.id, next);
      assert.deepEqual(claim?.payload, Buffer.from(bytes(1000, 16)));
      await queue.close();
    });

    it("served by dispatch: with nothing arriving it resolves empty at its waitMs, not before", async () => {
      const { queue, clock, control } = await damagingPayloads();
      const waiting = queue.claimBatch("work", 2, { waitMs: 1_000 });
      const state = watch(waiting);
      await turns(5);
      clock.advance(300);
      control.damage = true;
      await queue.enqueue("work", bytes(1000, 17), { jobId: "damaged" });
      await until(async () => (await queue.stats("work")).dead === 1, "dead-lettered");
      await turns(20);
      assert.equal(state.settled(), false, "still waiting once the damaged job is dead");
      clock.advance(699);
      await turns(5);
      assert.equal(state.settled(), false, "not before its waitMs");
      clock.advance(1);
      assert.deepEqual(await waiting, []);
      await queue.close();
    });

    it("waiting on, it still stops when its signal aborts, and at close", async () => {
      const { queue, control } = await damagingPayloads();
      const stop = new AbortController();
      const aborted = queue.claim("work", { waitMs: 1_000, signal: stop.signal });
      const closing = queue.claim("work", { waitMs: 1_000 });
      const states = [watch(aborted), watch(closing)];
      await turns(5);
      control.damage = true;
      await queue.enqueue("work", bytes(1000, 20), { jobId: "damaged-1" });
      await queue.enqueue("work", bytes(1000, 21), { jobId: "damaged-2" });
      await until(async () => (await queue.stats("work")).dead === 2, "dead-lettered");
      await turns(20);
      assert.deepEqual(
        states.map((s) => s.settled()),
        [false, false],
      );
      stop.abort();
      assert.equal(await aborted, null);
      assert.equal(states[1]!.settled(), false);
      await queue.close();
      assert.equal(await closing, null);
    });

    it("a direct claim over a damaged job waits on too, for the rest of its waitMs", async () => {
      const { queue, clock, control } = await damagingPayloads();
      await queue.enqueue("work", bytes(1000, 18), { jobId: "damaged" });
      control.damage = true;
      const waiting = queue.claim("work", { waitMs: 1_000 });
      const state = watch(waiting);
      await until(async () => (await queue.stats("work")).dead === 1, "dead-lettered");
      await turns(20);
      assert.equal(state.settled(), false, "still waiting once the damaged job is dead");
      clock.advance(999);
      await turns(5);
      assert.equal(state.settled(), false, "not before its waitMs");
      clock.advance(1);
      assert.equal(await waiting, null);
      // A claim without waitMs still answers at once.
      await queue.enqueue("work", bytes(1000, 19), { jobId: "damaged-2" });
      assert.equal(await queue.claim("work"), null);
      await queue.close();
    });

    it("the empty result of a claim whose jobs were all lost is a plain array, with nothing marked on it", async () => {
      const { queue, control } = await damagingPayloads();
      await queue.enqueue("work", bytes(1000, 22), { jobId: "damaged" });
      control.damage = true;
      const result = await queue.claimBatch("work", 1);
      assert.deepEqual(result, []);
      assert.deepEqual(Object.getOwnPropertySymbols(result), []);
      assert.deepEqual(Reflect.ownKeys(result), ["length"]);
      assert.equal((await queue.stats("work")).dead, 1);
      await queue.close();
    });
  });

  it("a listing lists a job whose payload object is damaged or gone without its payload (payloadError, one warning); getJob still rejects", async () => {
    const logger = recordingLogger();
    const store = new MemoryStore();
    const queue = await Queue.open(store, "q", { ...OPTIONS, logger });
    const damaged = await queue.enqueue("work", bytes(1000, 10), { jobId: "damaged" });
    const intact = await queue.enqueue("work", bytes(1000, 11), { jobId: "intact" });
    const gone = await queue.enqueue("work", bytes(1000, 12), { jobId: "gone" });
    const small = await queue.enqueue("work", "small", { jobId: "small" });
    const damagedKey = (await queue.getJob(damaged))!.payloadRef!;
    const goneKey = (await queue.getJob(gone))!.payloadRef!;
    const flipped = await body(store, damagedKey);
    flipped[20]! ^= 0x01;
    await store.put(damagedKey, flipped);
    await store.delete(goneKey);

    // Pending: the damaged and the missing job are listed without their payload, in place.
    logger.lines.length = 0;
    const pending = await queue.listJobs("work", "pending");
    assert.deepEqual(
      pending.jobs.map((j) => [j.id, j.payloadError === undefined, j.payload.byteLength]),
      [
        [damaged, false, 0],
        [intact, true, 1000],
        [gone, false, 0],
        [small, true, 5],
      ],
    );
    const [listedDamaged, , listedGone] = pending.jobs;
    assert.match(
      listedDamaged!.payloadError!,
      /corrupt object ".*": payload object checksum mismatch/,
    );
    assert.ok(listedDamaged!.payloadError!.includes(damagedKey));
    assert.equal(listedDamaged!.payloadRef, damagedKey);
    assert.equal(listedDamaged!.payloadSize, 1000);
    assert.ok(listedGone!.payloadError!.includes(goneKey), listedGone!.payloadError);
    assert.match(listedGone!.payloadError!, /is missing/);
    assert.deepEqual(pending.jobs[1]!.payload, Buffer.from(bytes(1000, 11)));
    const warnings = logger.at("warn");
    assert.equal(warnings.length, 1, "one warning for the page");
    assert.ok(warnings[0]!.message.includes(`job ${damaged} and 1 more`), warnings[0]!.message);
    assert.deepEqual(warnings[0]!.fields?.objectKeys, [damagedKey, goneKey]);
    assert.deepEqual(warnings[0]!.fields?.jobIds, [damaged, gone]);

    // The single-job read still reports the damage itself.
    const error = await rejection(queue.getJob(damaged));
    assert.ok(error instanceof CorruptionError, String(error));
    assert.equal(error.objectKey, damagedKey);

    // The claim dead-letters the damaged job; the dead list, where it ends up, stays readable.
    const claims = await queue.claimBatch("work", 1);
    assert.deepEqual(
      claims.map((c) => c.id),
      [intact],
    );
    await turns(5);
    logger.lines.length = 0;
    const dead = await queue.listJobs("work", "dead");
    assert.deepEqual(
      dead.jobs.map((j) => j.id),
      [damaged],
    );
    assert.equal(dead.jobs[0]!.status, "dead");
    assert.ok(dead.jobs[0]!.payloadError!.includes(damagedKey));
    assert.ok(dead.jobs[0]!.lastError!.includes(damagedKey));
    assert.equal(dead.jobs[0]!.payload.byteLength, 0);
    const deadJobs = await queue.deadJobs("work");
    assert.deepEqual(
      deadJobs.map((j) => [j.id, j.payloadError === dead.jobs[0]!.payloadError]),
      [[damaged, true]],
    );
    assert.equal(logger.at("warn").length, 2, "one warning per listing");
    // Without loading payloads nothing is read and nothing is marked.
    const unloaded = await queue.listJobs("work", "dead", { loadPayloads: false });
    assert.equal(unloaded.jobs[0]!.payloadError, undefined);
    await queue.close();

    // A reader's loaded listing marks the damaged job too; loadPayload of it still rejects.
    const reader = await QueueReader.open(store, "q");
    const loaded = await reader.listJobsLoaded("work", "dead");
    assert.deepEqual(
      loaded.jobs.map((j) => [j.id, j.payload.byteLength]),
      [[damaged, 0]],
    );
    assert.ok(loaded.jobs[0]!.payloadError!.includes(damagedKey));
    assert.ok((await rejection(reader.loadPayload(loaded.jobs[0]!))) instanceof CorruptionError);
  });

  it("a dead job whose object was deleted outside taquba is listed with payloadError by the writer and by a reader; loadPayload still rejects", async () => {
    const logger = recordingLogger();
    const store = new MemoryStore();
    const queue = await Queue.open(store, "q", OPTIONS);
    const id = await queue.enqueue("work", bytes(100, 9), { jobId: "gone" });
    const intact = await queue.enqueue("work", bytes(100, 10), { jobId: "intact" });
    const key = (await queue.getJob(id))!.payloadRef!;
    for (let i = 0; i < 2; i++) await queue.deadLetter((await queue.claim("work"))!, "x");
    await store.delete(key); // a bucket lifecycle rule, a manual cleanup
    const listed = await queue.listJobs("work", "dead");
    assert.match(listed.jobs.find((j) => j.id === id)!.payloadError!, /is missing/);
    await queue.close();

    const reader = await QueueReader.open(store, "q", { logger });
    const page = await reader.listJobsLoaded("work", "dead");
    assert.deepEqual(page.jobs.map((j) => [j.id, j.payloadError, j.payload.byteLength]).sort(), [
      [id, listed.jobs.find((j) => j.id === id)!.payloadError, 0],
      [intact, undefined, 100],
    ]);
    const gone = page.jobs.find((j) => j.id === id)!;
    assert.ok(gone.payloadError!.includes(key));
    assert.equal(gone.payloadRef, key);
    assert.equal(gone.payloadSize, 100);
    const warnings = logger.at("warn");
    assert.equal(warnings.length, 1);
    assert.deepEqual(warnings[0]!.fields?.objectKeys, [key]);
    const error = await rejection(reader.loadPayload(gone));
    assert.ok(error instanceof StorageError, String(error));
    assert.match(error.message, /is missing/);
  });

  it("deadJobs gives one warning for the call, however many steps its page is read in", async () => {
    const logger = recordingLogger();
    const store = new MemoryStore();
    const queue = await Queue.open(store, "q", { ...OPTIONS, logger });
    // More than one step's worth (256 jobs), with an unreadable job in the first and the last step.
    const ids = await queue.enqueueBatch(
      "work",
      Array.from({ length: 300 }, (_, i) => bytes(100, i)),
    );
    const keys = await Promise.all(
      [ids[0]!, ids[299]!].map(async (id) => (await queue.getJob(id))!.payloadRef!),
    );
    for (const claim of await queue.claimBatch("work", 300)) await queue.deadLetter(claim, "x");
    for (const key of keys) await store.delete(key);
    logger.lines.length = 0;
    const dead = await queue.deadJobs("work", { limit: 1_000 });
    assert.equal(dead.length, 300);
    assert.deepEqual(
      dead.filter((j) => j.payloadError !== undefined).map((j) => j.id),
      [ids[0], ids[299]],
    );
    const warnings = logger.at("warn").length;
    assert.equal(warnings, 1, `${warnings} warnings for one deadJobs call`);
    await queue.close();
  });

  describe("a payload read the store fails to answer ends only that attempt", () => {
    /** A store whose payload reads throw a throttling answer while `failing`, counting them per key. */
    function throttledPayloads() {
      const inner = new MemoryStore();
      const reads = new Map<string, number>();
      const control = { failing: false };
      const store: ObjectStore = new Proxy(inner, {
        get(target, property) {
          if (property !== "get") return bound(target, property);
          return async (key: string): Promise<StoredObject | null> => {
            if (control.failing && key.includes("/payload/")) {
              reads.set(key, (reads.get(key) ?? 0) + 1);
              throw Object.assign(new Error("SlowDown"), {
                name: "SlowDown",
                $metadata: { httpStatusCode: 503 },
              });
            }
            return target.get(key);
          };
        },
      });
      return { store, reads, control };
    }

    it("claimBatch reads only the jobs it took, nacks only them, dead-letters none and takes no more", async () => {
      const { store, reads, control } = throttledPayloads();
      const queue = await Queue.open(store, "q", {
        ...OPTIONS,
        defaultQueueConfig: { maxAttempts: 2, retryBackoffBaseMs: 0 },
        log: { logger: silentLogger, retry: { baseDelayMs: 1, maxDelayMs: 1, maxElapsedMs: 5 } },
      });
      const ids: string[] = [];
      for (let i = 0; i < 40; i++)
        ids.push(await queue.enqueue("work", bytes(100, i), { jobId: `job-${i}` }));
      const keys = new Map<string, string>();
      for (const id of ids) keys.set((await queue.getJob(id))!.payloadRef!, id);
      control.failing = true;

      const claims = await queue.claimBatch("work", 4);
      assert.deepEqual(claims, []);
      await turns(5);
      const read = [...reads.keys()].map((key) => keys.get(key)).sort();
      assert.deepEqual(read, ids.slice(0, 4).sort(), "only the 4 jobs taken were read");
      const stats = await queue.stats("work");
      assert.equal(stats.dead, 0);
      assert.equal(stats.pending, 40);
      for (const [i, id] of ids.entries()) {
        const history = await queue.attemptHistory(id);
        assert.deepEqual(
          history.map((a) => a.outcome),
          i < 4 ? ["retried"] : [],
          `history of ${id}`,
        );
      }

      control.failing = false;
      const after = await queue.claimBatch("work", 4);
      assert.equal(after.length, 4);
      await queue.close();
    });

    it("a waiting claim whose reads the store fails to answer still returns at once, without waiting on (no retry loop)", async () => {
      const { store, reads, control } = throttledPayloads();
      const queue = await Queue.open(store, "q", {
        ...OPTIONS,
        defaultQueueConfig: { maxAttempts: 5, retryBackoffBaseMs: 0 },
        log: { logger: silentLogger, retry: { baseDelayMs: 1, maxDelayMs: 1, maxElapsedMs: 5 } },
      });
      for (let i = 0; i < 8; i++) await queue.enqueue("work", bytes(100, i), { jobId: `job-${i}` });
      control.failing = true;
      const startedAt = performance.now();
      assert.deepEqual(await queue.claimBatch("work", 4, { waitMs: 60_000 }), []);
      assert.ok(performance.now() - startedAt < 30_000, "returned without waiting out its waitMs");
      assert.equal(reads.size, 4, "only the 4 jobs taken were read");
      await queue.close();
    });

    it("a waiting claim whose refill, after a damaged job, meets a store failure returns at once: one attempt, not a wait that retries it", async () => {
      const inner = new MemoryStore();
      const damaged = new Set<string>();
      const throttled = new Set<string>();
      const store: ObjectStore = new Proxy(inner, {
        get(target, property) {
          if (property !== "get") return bound(target, property);
          return async (key: string): Promise<StoredObject | null> => {
            if (throttled.has(key))
              throw Object.assign(new Error("SlowDown"), {
                name: "SlowDown",
                $metadata: { httpStatusCode: 503 },
              });
            const object = await target.get(key);
            if (object === null || !damaged.has(key)) return object;
            const body = Uint8Array.from(object.body);
            body[0]! ^= 0x01;
            return { ...object, body };
          };
        },
      });
      const queue = await Queue.open(store, "q", {
        ...OPTIONS,
        defaultQueueConfig: { maxAttempts: 5, retryBackoffBaseMs: 0 },
        log: { logger: silentLogger, retry: { baseDelayMs: 1, maxDelayMs: 1, maxElapsedMs: 5 } },
      });
      const d = await queue.enqueue("work", bytes(100, 1), { jobId: "damaged" });
      const t = await queue.enqueue("work", bytes(100, 2), { jobId: "throttled" });
      damaged.add((await queue.getJob(d))!.payloadRef!);
      throttled.add((await queue.getJob(t))!.payloadRef!);
      // The damaged job is dead-lettered; the refill takes the throttled one, whose read fails.
      const startedAt = performance.now();
      assert.deepEqual(await queue.claimBatch("work", 1, { waitMs: 60_000 }), []);
      assert.ok(performance.now() - startedAt < 30_000, "returned without waiting out its waitMs");
      await turns(5);
      assert.deepEqual(
        (await queue.attemptHistory(t)).map((a) => a.outcome),
        ["retried"],
        "one attempt from one call",
      );
      assert.equal((await queue.stats("work")).dead, 1);
      await queue.close();
    });
  });

  it("a damaged read followed by a good one hands the job out: it is read once more before it is dead-lettered", async () => {
    const inner = new MemoryStore();
    let garble = false;
    let payloadReads = 0;
    const store: ObjectStore = new Proxy(inner, {
      get(target, property) {
        if (property !== "get") return bound(target, property);
        return async (key: string): Promise<StoredObject | null> => {
          const object = await target.get(key);
          if (!key.includes("/payload/") || object === null) return object;
          payloadReads++;
          if (!garble) return object;
          garble = false; // the first read only: a body cut short on its way
          return { ...object, body: object.body.subarray(0, object.body.byteLength - 100) };
        };
      },
    });
    const queue = await Queue.open(store, "q", {
      ...OPTIONS,
      defaultQueueConfig: { maxAttempts: 5, retryBackoffBaseMs: 0 },
    });
    const id = await queue.enqueue("work", bytes(1000, 9), { jobId: "healthy" });
    payloadReads = 0;
    garble = true;
    const claim = await queue.claim("work");
    assert.equal(claim?.id, id);
    assert.deepEqual(claim?.payload, Buffer.from(bytes(1000, 9)));
    assert.equal(payloadReads, 2, "read once more after the garbled read");
    const stats = await queue.stats("work");
    assert.equal(stats.dead, 0);
    assert.equal(stats.claimed, 1);
    await queue.close();
  });
});
