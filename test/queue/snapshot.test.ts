import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { ManualClock } from "../../src/clock.js";
import { CorruptionError } from "../../src/errors.js";
import { openLog } from "../../src/log/index.js";
import { WalTail } from "../../src/log/tail.js";
import { silentLogger } from "../../src/logger.js";
import { apply } from "../../src/queue/apply.js";
import { NewerFormatError } from "../../src/queue/decode-error.js";
import { IdGenerator } from "../../src/queue/ids.js";
import { Queue } from "../../src/queue/queue.js";
import { QueueReader } from "../../src/queue/reader.js";
import { decodeRecord, encodeRecord, type QueueRecord } from "../../src/queue/records/codec.js";
import { DecodedEnqueue, type EnqueueRecord } from "../../src/queue/records/enqueue.js";
import { Tag } from "../../src/queue/records/tags.js";
import { restoreState } from "../../src/queue/restore.js";
import type { ScheduleDefinition } from "../../src/queue/schedules/types.js";
import { decodeSnapshot, encodeSnapshot } from "../../src/queue/snapshot.js";
import { SnapshotReader } from "../../src/queue/snapshot-decoder.js";
import { SnapshotWriter } from "../../src/queue/snapshot-encoder.js";
import { SNAPSHOT_REVISION } from "../../src/queue/snapshot-layout.js";
import { State, Status } from "../../src/queue/state.js";
import { PAGE_SLOTS } from "../../src/queue/table.js";
import { MemoryStore } from "../../src/store/memory.js";
import { listAll } from "../../src/store/types.js";
import { FaultStore } from "../../src/store/wrappers/fault.js";
import { SliceBudget } from "../../src/util/slices.js";
import { auditState, stateDigest } from "../reliability/lib/audit.js";
import { enqueueRecord, rejection } from "./helpers.js";

const NOW = 1_700_000_000_000;

/** A budget that is always spent: every step does one unit of work. */
const oneUnit = () => new SliceBudget(0);

/** A state with `count` jobs over two queues in every status, some with extras. */
function bigState(count: number): { state: State; ids: string[]; gen: IdGenerator } {
  const state = new State();
  const gen = new IdGenerator(null, 1);
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const id = gen.next(NOW + i);
    ids.push(id);
    apply(state, {
      tag: Tag.Enqueue,
      id,
      queue: i % 3 === 0 ? "b" : "a",
      payload: Buffer.from(`payload-${i}`.repeat(1 + (i % 4))),
      headers: i % 97 === 0 ? { n: String(i) } : undefined,
      priority: (i % 5) * 10,
      maxAttempts: 3,
      enqueuedAt: NOW + i,
      runAt: i % 11 === 0 ? NOW + 1_000_000 - i : undefined,
      dedupKey: i % 13 === 0 ? `k${i}` : undefined,
    });
  }
  for (let i = 0; i < count; i += 7) {
    const id = ids[i]!;
    if (state.statusOf(state.find(id)) !== Status.Pending) continue;
    apply(state, { tag: Tag.Claim, id, at: NOW + i });
    // Every other done job holds a result: the two done indexes interleave in time.
    const result = i % 2 === 0 ? { result: Buffer.from(`r${i}`) } : {};
    if (i % 3 === 0) apply(state, { tag: Tag.Ack, id, keep: true, at: NOW + 2 * i, ...result });
    else if (i % 3 === 1) apply(state, { tag: Tag.Dead, id, at: NOW + i, reason: `r${i}` });
  }
  return { state, ids, gen };
}

describe("snapshots of the job table", { timeout: 120_000 }, () => {
  it("encoded in slices while the state changes, a snapshot is the state as of its start", () => {
    const { state, ids, gen } = bigState(2 * PAGE_SLOTS + 5_000);
    const frozen = stateDigest(state);
    const encoder = new SnapshotWriter(state, 26, oneUnit());
    let steps = 0;
    let bytes: Uint8Array | null = null;
    let i = 0;
    while (bytes === null) {
      bytes = encoder.step();
      steps++;
      // Between slices the live state moves on: new jobs, claims, removals, promotions.
      for (let k = 0; k < 500; k++, i++) {
        const id = ids[(i * 7919) % ids.length]!;
        const h = state.find(id);
        const records: QueueRecord[] = [];
        if (h === -1) continue;
        const status = state.statusOf(h);
        if (status === Status.Pending) records.push({ tag: Tag.Claim, id, at: NOW + i });
        else if (status === Status.Claimed)
          records.push({ tag: Tag.Ack, id, keep: false, at: NOW });
        else if (status === Status.Dead) records.push({ tag: Tag.RequeueDead, id });
        else if (status === Status.Done)
          records.push({
            tag: k % 2 === 0 ? Tag.SweepDoneSome : Tag.SweepDoneNoResultSome,
            queue: state.queueOf(h).name,
            before: NOW * 2,
            limit: 3,
          });
        else records.push({ tag: Tag.PromoteSome, queue: "a", upTo: NOW * 2, limit: 5 });
        records.push({
          tag: Tag.Enqueue,
          id: gen.next(NOW + 10_000_000 + i),
          queue: "c",
          payload: Buffer.from("new"),
          headers: undefined,
          priority: 0,
          maxAttempts: 1,
          enqueuedAt: NOW,
          runAt: undefined,
          dedupKey: `n${i}`,
        });
        for (const record of records) apply(state, record);
      }
    }
    assert.ok(steps > 10, `${steps} slices`);
    const restored = decodeSnapshot(bytes.subarray(26));
    assert.equal(stateDigest(restored), frozen);
    assert.deepEqual(auditState(restored), []);
    assert.deepEqual(auditState(state), [], "the live state is sound after the view was released");
  });

  it("schedules and their tombstones are encoded in slices as of the cut, bytes as in one step", () => {
    const { state } = bigState(1_000);
    const definition = (name: string, everyMs: number): ScheduleDefinition => ({
      name,
      cron: undefined,
      everyMs,
      timezone: "UTC",
      queue: "a",
      payload: Buffer.from(`payload of ${name}`),
      options: undefined,
      startAt: undefined,
      endAt: undefined,
      catchUp: "none",
      setAt: NOW,
    });
    for (let i = 0; i < 600; i++)
      apply(state, { tag: Tag.ScheduleSet, schedule: definition(`s${i}`, 60_000 + i) });
    for (let i = 0; i < 600; i += 5) apply(state, { tag: Tag.Unschedule, name: `s${i}` });
    const frozen = stateDigest(state);
    const oneStep = encodeSnapshot(state);
    const encoder = new SnapshotWriter(state, 0, oneUnit());
    let bytes: Uint8Array | null = null;
    for (let i = 0; bytes === null; i++) {
      bytes = encoder.step();
      // Between slices: schedules replaced, removed and added.
      apply(state, { tag: Tag.ScheduleSet, schedule: definition(`s${(i * 7) % 600}`, 1_000 + i) });
      apply(state, { tag: Tag.ScheduleSet, schedule: definition(`new${i}`, 5_000) });
      if (state.schedules.has(`s${(i * 13 + 1) % 600}`))
        apply(state, { tag: Tag.Unschedule, name: `s${(i * 13 + 1) % 600}` });
    }
    assert.deepEqual(Buffer.from(bytes), Buffer.from(oneStep));
    assert.equal(stateDigest(decodeSnapshot(bytes)), frozen);
    // Read back in slices too: a few dozen schedules per step.
    const stepsToRead = (snapshot: Uint8Array) => {
      const reader = new SnapshotReader(snapshot, oneUnit());
      let restored: State | null = null;
      let steps = 0;
      for (; restored === null; steps++) restored = reader.step();
      return { restored, steps };
    };
    const { restored, steps } = stepsToRead(bytes);
    const withoutSchedules = stepsToRead(encodeSnapshot(bigState(1_000).state)).steps;
    assert.ok(steps >= withoutSchedules + 600 / 64, `${steps} steps, ${withoutSchedules} without`);
    assert.equal(stateDigest(restored), frozen);
  });

  it("done jobs with a result and without are stored as one completion order, merged in slices, and split again", () => {
    const state = new State();
    const gen = new IdGenerator(null, 1);
    const count = 12_345; // several budget checks' worth of entries in the one merged list
    const ack = (i: number, at: number, withResult: boolean) => {
      const id = gen.next(NOW + i);
      apply(state, {
        tag: Tag.Enqueue,
        id,
        queue: "q",
        payload: Buffer.from("x"),
        headers: undefined,
        priority: 0,
        maxAttempts: 1,
        enqueuedAt: NOW,
        runAt: undefined,
        dedupKey: undefined,
      });
      apply(state, { tag: Tag.Claim, id, at });
      const result = withResult ? { result: Buffer.from(`r${i}`) } : {};
      apply(state, { tag: Tag.Ack, id, keep: true, at, ...result });
    };
    // Runs of each kind of uneven length, some completing at the same time.
    for (let i = 0; i < count; i++) ack(i, NOW + Math.floor(i / 3), (i * 7) % 11 < 5);
    const frozen = stateDigest(state);
    const merged = (s: State) => {
      const qs = s.queues.get("q")!;
      return [...qs.doneNoResult.toArray(), ...qs.doneWithResult.toArray()]
        .sort(s.orders.byTime)
        .map((h) => s.idOf(h));
    };
    const order = merged(state);
    const encoder = new SnapshotWriter(state, 0, oneUnit());
    let bytes: Uint8Array | null = null;
    for (let i = count; bytes === null; i++) {
      bytes = encoder.step();
      // Between slices both indexes change: new acks of each kind, and sweeps.
      ack(i, NOW + i, i % 2 === 0);
      apply(state, {
        tag: i % 2 === 0 ? Tag.SweepDoneSome : Tag.SweepDoneNoResultSome,
        queue: "q",
        before: NOW + 1_000_000,
        limit: 2,
      });
    }
    const reader = new SnapshotReader(bytes, oneUnit());
    let restored: State | null = null;
    while (restored === null) restored = reader.step();
    assert.equal(stateDigest(restored), frozen);
    assert.deepEqual(merged(restored), order);
    assert.deepEqual(auditState(restored), []);
    assert.deepEqual(auditState(state), []);
  });

  it("extras of many pieces (long errors and results) are encoded in slices to the bytes of one step", () => {
    const state = new State();
    const gen = new IdGenerator(null, 1);
    // About 4 MB of extras: many times the piece the writer takes off at once.
    for (let i = 0; i < 4_000; i++) {
      const id = gen.next(NOW + i);
      apply(state, {
        tag: Tag.Enqueue,
        id,
        queue: "q",
        payload: Buffer.from("x"),
        headers: undefined,
        priority: 0,
        maxAttempts: 1,
        enqueuedAt: NOW,
        runAt: undefined,
        dedupKey: undefined,
      });
      apply(state, { tag: Tag.Claim, id, at: NOW + i });
      if (i % 2 === 0)
        apply(state, {
          tag: Tag.Dead,
          id,
          at: NOW + i,
          reason: `e${i}`.padEnd(700 + (i % 300), "!"),
        });
      else
        apply(state, {
          tag: Tag.Ack,
          id,
          keep: true,
          at: NOW + i,
          result: Buffer.alloc(1_000 + (i % 500), i % 251),
        });
    }
    const whole = encodeSnapshot(state);
    const encoder = new SnapshotWriter(state, 0, oneUnit());
    let sliced: Uint8Array | null = null;
    while (sliced === null) sliced = encoder.step();
    assert.ok(whole.byteLength > 4_000_000, `${whole.byteLength} bytes`);
    assert.ok(Buffer.from(sliced).equals(Buffer.from(whole)));
    const restored = decodeSnapshot(sliced);
    assert.equal(stateDigest(restored), stateDigest(state));
    assert.deepEqual(auditState(restored), []);
  });

  it("decoding in slices, with views of the bytes, gives the same state as replaying", () => {
    const { state } = bigState(PAGE_SLOTS + 123);
    const bytes = encodeSnapshot(state);
    const reader = new SnapshotReader(bytes, oneUnit());
    let steps = 0;
    let restored: State | null = null;
    while (restored === null) {
      restored = reader.step();
      steps++;
    }
    assert.ok(steps > 5, `${steps} slices`);
    assert.equal(stateDigest(restored), stateDigest(state));
    assert.deepEqual(auditState(restored), []);
    // Misaligned bytes are copied instead of viewed: same state.
    const shifted = new Uint8Array(bytes.length + 3);
    shifted.set(bytes, 3);
    assert.equal(stateDigest(decodeSnapshot(shifted.subarray(3))), stateDigest(state));
    // A restored state goes on like any other, and snapshots again.
    const more = decodeSnapshot(encodeSnapshot(restored));
    assert.equal(stateDigest(more), stateDigest(state));
  });

  it("a snapshot in a format a newer release wrote is refused as such, not as damage", async () => {
    const { state } = bigState(10);
    const bytes = encodeSnapshot(state);
    assert.equal(bytes[0], 2, "version");
    assert.equal(bytes[1], SNAPSHOT_REVISION, "the revision this build writes");
    const changed = (change: (copy: Uint8Array) => void) => {
      const copy = bytes.slice();
      change(copy);
      return copy;
    };
    // Builds before the revision byte wrote 0 there: still read.
    assert.equal(decodeSnapshot(changed((c) => (c[1] = 0))).queueList.length, 2);
    const newer = [
      [
        changed((c) => (c[1] = SNAPSHOT_REVISION + 1)),
        /snapshot revision 2, this build reads up to 1/,
      ],
      [changed((c) => (c[0] = 3)), /unknown snapshot version 3, this build reads 2/],
    ] as const;
    for (const [copy, detail] of newer) {
      assert.throws(
        () => decodeSnapshot(copy),
        (e: unknown) => {
          assert.ok(e instanceof NewerFormatError, String(e));
          assert.match((e as Error).message, detail);
          return true;
        },
      );
      const error = await rejection(restoreState("q", copy, new WalTail([])));
      assert.ok(error instanceof CorruptionError, String(error));
      assert.match(
        error.message,
        /queue snapshot written by a newer taquba release \(.*\): not damage; open it with that release or a later one/,
      );
    }
  });

  it("an open that meets a newer release's snapshot leaves that release's running writer alone", async () => {
    const store = new MemoryStore();
    const { state } = bigState(3);
    const newer = encodeSnapshot(state);
    newer[1] = SNAPSHOT_REVISION + 1;
    // The newer release's writer, running, has checkpointed in its format.
    const { log } = await openLog(store, "q", { logger: silentLogger });
    log.setSnapshotSource(() => newer);
    await log.checkpoint();
    const manifests = (await listAll(store, "q/manifest/")).length;
    const error = await rejection(Queue.open(store, "q", { logger: silentLogger }));
    assert.ok(error instanceof CorruptionError, String(error));
    assert.match(error.message, /written by a newer taquba release/);
    // Refused before it took the store over: the running writer goes on, nothing was written.
    assert.equal((await listAll(store, "q/manifest/")).length, manifests);
    await log.append(new Uint8Array([1]));
    await log.close();
  });

  it("a queue flag this build does not know is refused as written by a newer release", () => {
    const { state } = bigState(3);
    const bytes = encodeSnapshot(state);
    // In the head, the queue's name (its length, 1, then "b") is followed by its done count (0)
    // and its flags. The same two bytes can also stand in the job ids' random bits before it,
    // so each place they stand is tried: setting a bit this build does not know in the queue's
    // flags must be refused as a newer release's.
    const refusals: string[] = [];
    for (let at = Buffer.from(bytes).indexOf("\u0001b", 2); at !== -1; ) {
      const flagsAt = at + 2 + 1;
      if (bytes[flagsAt] === 0) {
        const changed = Uint8Array.from(bytes);
        changed[flagsAt] = 4; // a bit this build does not know
        try {
          decodeSnapshot(changed);
        } catch (e) {
          if (e instanceof NewerFormatError && /queue "b" has unknown flags 4/.test(e.message))
            refusals.push(e.message);
        }
      }
      at = Buffer.from(bytes).indexOf("\u0001b", at + 1);
    }
    assert.equal(refusals.length, 1, refusals.join("; "));
    assert.match(refusals[0]!, /snapshot queue "b" has unknown flags 4/);
  });

  it("a snapshot holding one caller job id twice is refused", () => {
    const state = new State();
    const gen = new IdGenerator(null, 1);
    const handles = ["same", "other"].map((jobId, i) => {
      const id = gen.next(1_000 + i);
      apply(state, enqueueRecord(id, { jobId }));
      return state.find(id);
    });
    // A damaged table: the second job says it has the first one's id.
    (state.table.extras(handles[1]!) as { jobId?: string }).jobId = "same";
    assert.throws(() => decodeSnapshot(encodeSnapshot(state)), {
      name: "DecodeError",
      message: /holds job id "same" twice/,
    });
  });

  it("damaged snapshots are refused with DecodeError, never half-loaded", () => {
    const { state } = bigState(3_000);
    const bytes = encodeSnapshot(state);
    const damaged = (change: (copy: Uint8Array) => void) => {
      const copy = bytes.slice();
      change(copy);
      return () => decodeSnapshot(copy);
    };
    assert.throws(() => decodeSnapshot(bytes.subarray(0, bytes.length - 5)), {
      name: "DecodeError",
    });
    assert.throws(() => decodeSnapshot(bytes.subarray(0, 40)), { name: "DecodeError" });
    assert.throws(
      damaged((c) => {
        c[0] = 9;
      }),
      /unknown snapshot version 9/,
    );
    // The index lists sit at the end: swapping two entries breaks the order.
    assert.throws(
      damaged((c) => {
        const end = c.length;
        const a = c.slice(end - 8, end - 4);
        c.copyWithin(end - 8, end - 4, end);
        c.set(a, end - 4);
      }),
      { name: "DecodeError" },
    );
    for (let at = 0; at < bytes.length; at += 997) {
      const flipped = bytes.slice();
      flipped[at]! ^= 0xff;
      try {
        const restored = decodeSnapshot(flipped);
        // Damage to a value (a payload, a string, a count of attempts) is the log's checksum's
        // to catch; the structure of what was loaded is still sound.
        const structural = auditState(restored).filter((p) => !/attempts|cancel request/.test(p));
        assert.deepEqual(structural, [], `byte ${at}`);
      } catch (error) {
        assert.equal((error as Error).name, "DecodeError", `byte ${at}: ${error}`);
      }
    }
  });

  it("an enqueue replayed from its bytes applies as the live one did; a repeated id is refused", () => {
    const gen = new IdGenerator(null, 1);
    const live = new State();
    const replayed = new State();
    const records: EnqueueRecord[] = Array.from({ length: 40 }, (_, i) => ({
      tag: Tag.Enqueue,
      id: gen.next(NOW + i),
      queue: i % 2 === 0 ? "a" : "b",
      payload: Buffer.from(`p${i}`.repeat(i % 7)),
      headers: i % 5 === 0 ? { k: String(i) } : undefined,
      priority: i % 3,
      maxAttempts: 2,
      enqueuedAt: NOW + i,
      runAt: i % 4 === 0 ? NOW + 1_000 : undefined,
      dedupKey: i % 6 === 0 ? `d${i}` : undefined,
    }));
    // An id older than the newest but not in the state is accepted (and the newest stays).
    const older = records.splice(3, 1)[0]!;
    records.push(older);
    for (const record of records) {
      apply(live, record);
      const decoded = decodeRecord(encodeRecord(record));
      assert.ok(decoded instanceof DecodedEnqueue);
      apply(replayed, decoded);
    }
    assert.equal(stateDigest(replayed), stateDigest(live));
    assert.equal(replayed.lastId, live.lastId);
    assert.equal(replayed.lastId, records.at(-2)!.id);
    const again = decodeRecord(encodeRecord(records[7]!));
    const before = stateDigest(replayed);
    assert.throws(() => apply(replayed, again), /duplicate job id/);
    assert.equal(stateDigest(replayed), before, "a refused record changes nothing");
  });

  it("an empty state round-trips", () => {
    const state = new State();
    assert.equal(stateDigest(decodeSnapshot(encodeSnapshot(state))), stateDigest(state));
  });
});

interface Fixture {
  now: number;
  objects: Record<string, string>;
  jobs: Record<string, (Record<string, unknown> & { id: string; payload: string }) | null>;
  stats: Record<string, Record<string, number>>;
}

describe("a store written by the previous release (checkpoint format 1)", {
  timeout: 60_000,
}, () => {
  const fixture = JSON.parse(
    readFileSync(new URL("../../../test/queue/fixtures/store-v1.json", import.meta.url), "utf8"),
  ) as Fixture;

  async function load(): Promise<MemoryStore> {
    const store = new MemoryStore();
    for (const [key, body] of Object.entries(fixture.objects))
      await store.put(key, Buffer.from(body, "base64"));
    return store;
  }

  function expectJobs(actual: Record<string, unknown>, name: string): void {
    const expected = fixture.jobs[name]!;
    const { leaseExpiresAt: _, ...rest } = expected;
    assert.deepEqual(
      { ...actual, payload: Buffer.from(actual.payload as Uint8Array).toString("base64") },
      JSON.parse(JSON.stringify(rest)),
      name,
    );
  }

  it("opens with every job as it was; the claims it left are requeued; the next checkpoint is format 2", async () => {
    const store = await load();
    const options = {
      clock: new ManualClock(fixture.now),
      logger: silentLogger,
      flushIntervalMs: 0,
    };
    const reader = await QueueReader.open(store, "v1");
    assert.deepEqual(reader.stats("main"), { ...fixture.stats.main, paused: false });
    for (const round of ["reopened", "reopened from format 2"]) {
      const queue = await Queue.open(store, "v1", options);
      for (const name of Object.keys(fixture.jobs)) {
        const job = await queue.getJob(fixture.jobs[name]!.id);
        if (name === "claimed") {
          assert.equal(job?.status, "pending", round);
          assert.equal(job?.attempts, 1);
        } else if (name === "cancelReq") assert.equal(job, null, round);
        else expectJobs(job as unknown as Record<string, unknown>, name);
      }
      for (const [name, stats] of Object.entries(fixture.stats)) {
        const expected =
          name === "other"
            ? { ...stats, claimed: 0, pending: stats.pending! + 1, paused: false }
            : { ...stats, paused: false };
        assert.deepEqual(await queue.stats(name), expected, `${round}: ${name}`);
      }
      await queue.close();
    }
    const checkpoint = (await store.list("v1/checkpoint/")).objects.at(-1)!;
    const body = (await store.get(checkpoint.key))!.body;
    assert.equal(body[26], 2, "the new checkpoint is format 2");
  });
});

describe("an open that meets a newer release's checkpoint only once it reads again", {
  timeout: 60_000,
}, () => {
  /** A log writer standing in for a running writer of a newer release, and its snapshot. */
  async function newerWriter(store: MemoryStore, gcMinAgeMs?: number) {
    const newer = encodeSnapshot(new State());
    newer[1] = SNAPSHOT_REVISION + 1;
    const options = { logger: silentLogger, ...(gcMinAgeMs === undefined ? {} : { gcMinAgeMs }) };
    const { log } = await openLog(store, "q", options);
    return { log, newer };
  }

  /** The open failed with the newer-release refusal, and the running writer goes on. */
  async function assertRefusedAndWriterGoesOn(
    error: Error,
    log: Awaited<ReturnType<typeof openLog>>["log"],
  ): Promise<void> {
    assert.ok(error instanceof CorruptionError, String(error));
    assert.match(error.message, /written by a newer taquba release/);
    const goesOn = await log.append(new Uint8Array([3])).then(
      () => "ok",
      (e: Error) => e.message,
    );
    assert.equal(goesOn, "ok");
    await log.close();
  }

  it("when the read-ahead met the running writer's GC", async () => {
    const store = new MemoryStore();
    const { log, newer } = await newerWriter(store, 0);
    log.setSnapshotSource(() => newer);
    await log.append(new Uint8Array([1]));
    await log.checkpoint();
    const fault = new FaultStore(store);
    const held = fault.pause({ op: "get", keyPrefix: "q/checkpoint/" });
    const opening = Queue.open(fault, "q", { logger: silentLogger });
    opening.catch(() => {});
    await held.whenHeld();
    // The running writer goes on: new checkpoints, and GC of the one being read.
    const first = (await listAll(store, "q/checkpoint/"))[0]!.key;
    for (let i = 0; i < 50; i++) {
      if (!(await listAll(store, "q/checkpoint/")).some((o) => o.key === first)) break;
      await log.append(new Uint8Array([2]));
      await log.checkpoint();
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(!(await listAll(store, "q/checkpoint/")).some((o) => o.key === first));
    held.release();
    await assertRefusedAndWriterGoesOn(await rejection(opening), log);
  });

  it("when its first claim lost the race to the writer's newer checkpoint", async () => {
    const store = new MemoryStore();
    const { log, newer } = await newerWriter(store);
    await log.append(new Uint8Array([1]));
    const fault = new FaultStore(store);
    const probe = fault.pause({ op: "put", keyPrefix: "q/probe/" });
    const opening = Queue.open(fault, "q", { logger: silentLogger });
    opening.catch(() => {});
    await probe.whenHeld();
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r)); // read ahead
    // Read ahead: no checkpoint. The writer now checkpoints in its format, in the slot the
    // opener's claim is about to take.
    log.setSnapshotSource(() => newer);
    await log.checkpoint();
    const manifests = (await listAll(store, "q/manifest/")).length;
    probe.release();
    await assertRefusedAndWriterGoesOn(await rejection(opening), log);
    assert.equal((await listAll(store, "q/manifest/")).length, manifests + 1); // the writer's close
  });

  it('with recoverCorruption "skip", when the read-ahead met damage', async () => {
    const store = new MemoryStore();
    const { log, newer } = await newerWriter(store);
    log.setSnapshotSource(() => newer);
    await log.checkpoint();
    await log.append(new Uint8Array([1]));
    await log.append(new Uint8Array([2]));
    // Damage in the WAL after the checkpoint: "skip" leaves it for recovery to report.
    const first = (await listAll(store, "q/wal/"))[0]!.key;
    const bad = Uint8Array.from((await store.get(first))!.body);
    bad[bad.length - 1]! ^= 0xff;
    await store.put(first, bad);
    const error = await rejection(
      Queue.open(store, "q", { logger: silentLogger, log: { recoverCorruption: "skip" } }),
    );
    await assertRefusedAndWriterGoesOn(error, log);
  });
});
