import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { ulid } from "ulid";
import { apply } from "../../src/queue/apply.js";
import { ByteReader, ByteWriter } from "../../src/queue/binary.js";
import { decodeTombstone } from "../../src/queue/cancelled.js";
import {
  IdGenerator,
  isUlid,
  readIdBytes,
  writeIdBytes,
  writeIdBytesIfUlid,
} from "../../src/queue/ids.js";
import {
  decodeRecord,
  encodeRecord,
  type QueueRecord,
  RecordDecoder,
} from "../../src/queue/records/codec.js";
import { Tag } from "../../src/queue/records/tags.js";
import { decodeSnapshot, encodeSnapshot } from "../../src/queue/snapshot.js";
import { State } from "../../src/queue/state.js";
import { rows } from "./state-rows.js";

const arbId = fc.integer({ min: 0, max: 2 ** 48 - 1 }).map((t) => ulid(t));
const arbTime = fc.integer({ min: 0, max: 2 ** 53 - 1 });
const arbBytes = fc.uint8Array({ maxLength: 64 });
const arbHeaders = fc.option(fc.dictionary(fc.string(), fc.string(), { minKeys: 1 }), {
  nil: undefined,
});

const arbRecord: fc.Arbitrary<QueueRecord> = fc.oneof(
  fc.record({
    tag: fc.constant(Tag.Enqueue),
    id: arbId,
    queue: fc.string({ minLength: 1 }),
    payload: arbBytes,
    headers: arbHeaders,
    priority: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
    maxAttempts: fc.integer({ min: 1, max: 2 ** 32 - 1 }),
    enqueuedAt: arbTime,
    runAt: fc.option(arbTime, { nil: undefined }),
    dedupKey: fc.option(fc.string(), { nil: undefined }),
  }),
  fc.record({ tag: fc.constant(Tag.Claim), id: arbId, at: arbTime }),
  fc.boolean().chain((keep) =>
    fc.record({
      tag: fc.constant(Tag.Ack),
      id: arbId,
      keep: fc.constant(keep),
      at: keep ? arbTime : fc.constant(0),
    }),
  ),
  fc.record({
    tag: fc.constant(Tag.Retry),
    id: arbId,
    runAt: fc.option(arbTime, { nil: undefined }),
    error: fc.option(fc.string(), { nil: undefined }),
  }),
  fc.record({ tag: fc.constant(Tag.Dead), id: arbId, at: arbTime, reason: fc.string() }),
  fc.record({ tag: fc.constant(Tag.Promote), upTo: arbTime }),
  fc.record({
    tag: fc.constantFrom(Tag.Cancel, Tag.CancelRequest, Tag.RequeueDead, Tag.Release),
    id: arbId,
  }),
  fc.record({
    tag: fc.constantFrom(Tag.SweepDone, Tag.SweepDead),
    queue: fc.string({ minLength: 1 }),
    before: arbTime,
  }),
) as fc.Arbitrary<QueueRecord>;

describe("binary codec", { timeout: 60_000 }, () => {
  it("varints round-trip every integer up to 2^53", () => {
    fc.assert(
      fc.property(fc.array(arbTime), (values) => {
        const w = new ByteWriter(1);
        for (const v of values) w.varint(v);
        const r = new ByteReader(w.finish());
        assert.deepEqual(
          values.map(() => r.varint()),
          values,
        );
        assert.equal(r.remaining, 0);
      }),
    );
  });

  it("strings round-trip as length-prefixed UTF-8, short ASCII and otherwise", () => {
    const cases = [
      "",
      "q",
      "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
      "a".repeat(127),
      "a".repeat(128),
      "ascii then é",
      `${"x".repeat(100)}😀`,
      "\u007f\u0080",
    ];
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.constantFrom(...cases), fc.string({ unit: "binary" }))),
        (strings) => {
          const w = new ByteWriter(1);
          for (const value of strings) w.string(value);
          const bytes = w.finish();
          const expected = Buffer.concat(
            strings.map((value) => {
              const utf8 = Buffer.from(value, "utf8");
              const length = new ByteWriter(1);
              length.varint(utf8.length);
              return Buffer.concat([length.finish(), utf8]);
            }),
          );
          assert.deepEqual(Buffer.from(bytes), expected);
          const r = new ByteReader(bytes);
          for (const value of strings) assert.equal(r.string(), value);
          assert.equal(r.remaining, 0);
        },
      ),
    );
  });

  it("ids convert to 16 bytes and back, preserving order", () => {
    fc.assert(
      fc.property(arbId, arbId, (a, b) => {
        const bytes = new Uint8Array(32);
        writeIdBytes(a, bytes, 0);
        writeIdBytes(b, bytes, 16);
        assert.equal(readIdBytes(bytes, 0), a);
        assert.equal(readIdBytes(bytes, 16), b);
        const byteOrder = Buffer.compare(bytes.subarray(0, 16), bytes.subarray(16));
        assert.equal(byteOrder, a < b ? -1 : a > b ? 1 : 0);
      }),
    );
    assert.equal(isUlid("7ZZZZZZZZZZZZZZZZZZZZZZZZZ"), true);
    assert.equal(isUlid("8ZZZZZZZZZZZZZZZZZZZZZZZZZ"), false);
    assert.equal(isUlid("01ARZ3NDEKTSV4RRFFQ69G5FAU"), false);
  });

  it("checking and converting an id in one pass agrees with isUlid and writeIdBytes", () => {
    // Near-ULIDs: 26 characters mostly from the alphabet, sometimes one that is not.
    const near = fc
      .array(
        fc.constantFrom(..."0123456789ABCDEFGHJKMNPQRSTVWXYZIilLoOu\u00e9\u{1F600}".split("")),
        {
          minLength: 25,
          maxLength: 27,
        },
      )
      .map((chars) => chars.join(""));
    fc.assert(
      fc.property(fc.oneof(arbId, near, fc.string()), (id) => {
        const one = new Uint8Array(16);
        const two = new Uint8Array(16);
        const ok = writeIdBytesIfUlid(id, one, 0);
        assert.equal(ok, isUlid(id), id);
        if (ok) {
          writeIdBytes(id, two, 0);
          assert.deepEqual(one, two);
        }
      }),
      { numRuns: 2_000 },
    );
  });

  it("every record round-trips through its binary encoding", () => {
    fc.assert(
      fc.property(arbRecord, (record) => {
        const decoded = decodeRecord(encodeRecord(record));
        assert.deepEqual(normalise(decoded), normalise(record));
      }),
    );
  });

  it("records decoded in place from one buffer, as replay does, equal the records encoded", () => {
    fc.assert(
      fc.property(fc.array(arbRecord, { maxLength: 12 }), fc.nat({ max: 7 }), (records, gap) => {
        // Records side by side in one buffer with gaps between them (as in a WAL batch).
        const encoded = records.map((record) => encodeRecord(record));
        const buffer = new Uint8Array(encoded.reduce((n, e) => n + e.byteLength + gap, 0));
        const ranges: [number, number][] = [];
        let at = 0;
        for (const e of encoded) {
          at += gap;
          buffer.set(e, at);
          ranges.push([at, at + e.byteLength]);
          at += e.byteLength;
        }
        const decoder = new RecordDecoder();
        const decoded = ranges.map(([start, end]) => decoder.decode(buffer, start, end));
        assert.deepEqual(decoded.map(normalise), records.map(normalise));
      }),
    );
  });

  it("a queue name repeated from record to record decodes to the same string, and a new one to itself", () => {
    const r = new ByteReader(
      (() => {
        const w = new ByteWriter(64);
        for (const name of ["jobs", "jobs", "jobz", "jöbs", "jöbs", "", "jobs"]) w.string(name);
        return w.finish();
      })(),
    );
    const names = Array.from({ length: 7 }, () => r.repeatedString());
    assert.deepEqual(names, ["jobs", "jobs", "jobz", "jöbs", "jöbs", "", "jobs"]);
    assert.equal(r.remaining, 0);
  });

  it("claim and ack records stay small", () => {
    const id = ulid();
    const now = Date.now();
    assert.ok(encodeRecord({ tag: Tag.Claim, id, at: now }).length <= 24);
    assert.ok(encodeRecord({ tag: Tag.Ack, id, keep: false, at: 0 }).length <= 18);
  });

  it("truncated or unknown records are rejected", () => {
    const bytes = encodeRecord({ tag: Tag.Claim, id: ulid(), at: 5 });
    assert.throws(() => decodeRecord(bytes.subarray(0, bytes.length - 1)), /truncated/);
    assert.throws(() => decodeRecord(new Uint8Array([99])), /unknown record tag/);
    assert.throws(() => decodeRecord(new Uint8Array([...bytes, 0])), /trailing/);
  });
});

/** Plain-object form (null-prototype header maps compare equal to plain ones; undefined kept). */
function normalise(value: unknown): unknown {
  return JSON.parse(
    JSON.stringify(value, (_key, v) => {
      if (v === undefined) return "<undefined>";
      // Payloads: a decoded Buffer arrives here as its toJSON() form.
      if (v instanceof Uint8Array) return Array.from(v);
      if (v?.type === "Buffer" && Array.isArray(v.data)) return v.data;
      return v;
    }),
  );
}

describe("ids", { timeout: 60_000 }, () => {
  it("strictly increase within a millisecond, when the clock goes back, and across restarts", () => {
    const gen = new IdGenerator(null, 1);
    const ids = [gen.next(1_000), gen.next(1_000), gen.next(999), gen.next(1_001)];
    const restarted = new IdGenerator(ids.at(-1)!, 2);
    ids.push(restarted.next(500), restarted.next(1_001), restarted.next(2_000));
    for (let i = 1; i < ids.length; i++)
      assert.ok(ids[i - 1]! < ids[i]!, `${ids[i - 1]} < ${ids[i]}`);
    assert.ok(ids.every(isUlid));
  });

  it("carry the writer's epoch; a full counter moves on to the next millisecond", () => {
    const epoch5 = "00000005";
    const first = new IdGenerator(null, 5).next(1_700_000_000_000);
    assert.equal(first.slice(10, 18), epoch5);
    const next = new IdGenerator(`01HF7YAT00${epoch5}ZZZZZZZZ`, 5).next(0);
    assert.ok(next.startsWith(`01HF7YAT01${epoch5}`), next);
    assert.throws(() => new IdGenerator(null, 2 ** 40), RangeError);
  });

  it("a new writer never re-issues an id a crashed writer handed out, whatever its clock", () => {
    const t = 1_700_000_000_000;
    const crashed = new IdGenerator(null, 7);
    const durable = crashed.next(t);
    // Issued after the last durable id, then lost in the crash (same millisecond, and later ones).
    const lost = new Set<string>();
    for (let i = 0; i < 1_000; i++) lost.add(crashed.next(t + (i % 3)));
    for (const clock of [t - 10_000, t, t + 1, t + 2]) {
      const successor = new IdGenerator(durable, 8);
      for (let i = 0; i < 1_000; i++) {
        const id = successor.next(clock);
        assert.ok(!lost.has(id), `re-issued ${id} with the clock at ${clock - t} ms`);
        assert.ok(id > durable, `${id} > ${durable}`);
      }
    }
  });

  it("after an id from before epochs were in ids, move on to the next millisecond", () => {
    const legacy = "01HF7YAT00ZZZZZZZZ00000000";
    const next = new IdGenerator(legacy, 3).next(0);
    assert.ok(next > legacy && next.startsWith("01HF7YAT0100000003"), next);
  });
});

/** A canonical, comparable dump of a state (row positions and seq numbers aside). */
function dump(state: State): unknown {
  const jobs = rows(state).map(({ h: _h, seq: _seq, ...job }) => job);
  const ids = (handles: number[]) => handles.map((h) => state.idOf(h));
  const queues = [...state.queues.values()].map((q) => ({
    name: q.name,
    doneCount: q.doneCount,
    pending: ids(q.pending.toArray()),
    scheduled: ids(q.scheduled.toArray()),
    claimed: ids(q.claimed.toArray()),
    claimedByOwnId: ids(q.claimed.ownById.toArray()),
    dead: ids(q.deadById.toArray()),
    deadByOwnId: ids(q.deadById.ownById.toArray()),
    problems: [q.claimed.problems(), q.deadById.problems()],
    deadByTime: ids(q.deadByTime.toArray()),
    doneNoResult: ids(q.doneNoResult.toArray()),
    doneWithResult: ids(q.doneWithResult.toArray()),
    dedup: [...q.dedup.entries()].map(([k, h]) => [k, state.idOf(h)]).sort(),
  }));
  const cancelled = [...state.cancelled.freeze().entries()].map(decodeTombstone);
  return { lastId: state.lastId, jobs, queues, cancelled };
}

/** Random valid histories: each step picks an operation valid in the current state. */
function randomHistory(seed: number, steps: number): QueueRecord[] {
  let x = seed || 1;
  const rand = (n: number): number => {
    x = (x * 1_103_515_245 + 12_345) % 2 ** 31;
    return x % n;
  };
  const state = new State();
  const gen = new IdGenerator(null, 1);
  const records: QueueRecord[] = [];
  let now = 1_000;
  for (let i = 0; i < steps; i++) {
    now += rand(50);
    const jobs = rows(state);
    const pick = (status: number) => {
      const candidates = jobs.filter((j) => j.status === status);
      return candidates.length === 0 ? undefined : candidates[rand(candidates.length)];
    };
    let record: QueueRecord | undefined;
    switch (rand(9)) {
      case 0:
      case 1: {
        const queue = ["a", "b", "a:b"][rand(3)]!;
        const dedupKey = rand(4) === 0 ? `k${rand(3)}` : undefined;
        if (dedupKey !== undefined && state.queues.get(queue)?.dedup.has(dedupKey)) break;
        record = {
          tag: Tag.Enqueue,
          id: gen.next(now),
          queue,
          payload: Buffer.from("x".repeat(rand(5 + (rand(8) === 0 ? 200 : 0)))),
          headers: rand(3) === 0 ? { h: String(i) } : undefined,
          priority: rand(3) * 100,
          maxAttempts: 1 + rand(3),
          enqueuedAt: now,
          runAt: rand(3) === 0 ? now + rand(200) : undefined,
          dedupKey,
          // Some with their own ids, sorting before, among and after the generated ones.
          ...(rand(3) === 0
            ? { jobId: `${["-", "0", "Z", "z"][rand(4)]}${rand(1_000)}-${i}` }
            : {}),
        };
        break;
      }
      case 2: {
        const job = pick(0);
        if (job) record = { tag: Tag.Claim, id: job.id, at: now };
        break;
      }
      case 3: {
        const job = pick(2);
        const keep = rand(2) === 0;
        // Kept done jobs with a result and without sit in separate indexes.
        if (job)
          record =
            keep && rand(2) === 0
              ? { tag: Tag.Ack, id: job.id, keep, at: now, result: Buffer.from(`r${i}`) }
              : { tag: Tag.Ack, id: job.id, keep, at: now };
        break;
      }
      case 4: {
        const job = pick(2);
        if (job)
          record =
            rand(2) === 0
              ? { tag: Tag.Retry, id: job.id, runAt: rand(2) ? now + 10 : undefined, error: "e" }
              : { tag: Tag.Dead, id: job.id, at: now, reason: "r" };
        break;
      }
      case 5:
        record =
          rand(2) === 0
            ? { tag: Tag.Promote, upTo: now }
            : {
                tag: Tag.PromoteSome,
                queue: ["a", "b", "a:b"][rand(3)]!,
                upTo: now,
                limit: 1 + rand(3),
              };
        break;
      case 6: {
        const job = pick(rand(3));
        if (job)
          record =
            job.status === 2 && rand(2) === 0
              ? { tag: Tag.CancelRequest, id: job.id }
              : rand(2) === 0
                ? { tag: Tag.Cancel, id: job.id }
                : { tag: Tag.Cancel, id: job.id, at: now };
        break;
      }
      case 7: {
        const job = pick(4);
        if (job) record = { tag: Tag.RequeueDead, id: job.id };
        break;
      }
      case 8: {
        const queue = ["a", "b", "a:b"][rand(3)]!;
        const before = now - rand(100);
        const kind = rand(3);
        const someTags = [Tag.SweepDoneSome, Tag.SweepDeadSome, Tag.SweepDoneNoResultSome] as const;
        record =
          rand(4) === 0
            ? { tag: Tag.SweepCancelledSome, queue, before, limit: 1 + rand(3) }
            : rand(2) === 0 && kind < 2
              ? { tag: kind === 0 ? Tag.SweepDone : Tag.SweepDead, queue, before }
              : { tag: someTags[kind]!, queue, before, limit: 1 + rand(3) };
        break;
      }
    }
    if (record === undefined) continue;
    apply(state, record);
    records.push(record);
  }
  return records;
}

describe("apply, replay and snapshots", { timeout: 60_000 }, () => {
  it("replaying encoded records, or restoring a snapshot and replaying the rest, gives the same state", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2 ** 30 }),
        fc.integer({ min: 0, max: 300 }),
        (seed, cut) => {
          const records = randomHistory(seed, 300);
          const live = new State();
          for (const r of records) apply(live, r);
          for (const q of live.queues.values())
            assert.equal(q.claimed.problems() ?? q.deadById.problems(), null);

          const replayed = new State();
          for (const r of records) apply(replayed, decodeRecord(encodeRecord(r)));
          assert.deepEqual(dump(replayed), dump(live));

          const head = new State();
          const split = Math.min(cut, records.length);
          for (const r of records.slice(0, split)) apply(head, r);
          const restored = decodeSnapshot(encodeSnapshot(head));
          assert.deepEqual(dump(restored), dump(head));
          for (const r of records.slice(split)) apply(restored, decodeRecord(encodeRecord(r)));
          assert.deepEqual(dump(restored), dump(live));
        },
      ),
      { numRuns: 60 },
    );
  });

  it("a record that does not fit the state is rejected without changing it", () => {
    const state = new State();
    const before = dump(state);
    assert.throws(() => apply(state, { tag: Tag.Claim, id: ulid(), at: 1 }), /no job/);
    assert.deepEqual(dump(state), before);
  });

  it("a truncated snapshot is rejected", () => {
    const state = new State();
    for (const r of randomHistory(7, 50)) apply(state, r);
    const bytes = encodeSnapshot(state);
    assert.throws(() => decodeSnapshot(bytes.subarray(0, bytes.length - 3)));
  });
});
