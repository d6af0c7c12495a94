import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ulid } from "ulid";
import { ManualClock } from "../../src/clock.js";
import { silentLogger } from "../../src/logger.js";
import { IdGenerator } from "../../src/queue/ids.js";
import { Queue } from "../../src/queue/queue.js";
import { MemoryStore } from "../../src/store/memory.js";
import { auditState, liveState } from "../reliability/lib/audit.js";
import { ProcessStore } from "../reliability/lib/sim-stores.js";
import { followingId, mustClaim, text } from "./helpers.js";

function open(store: ProcessStore, clock: ManualClock): Promise<Queue> {
  return Queue.open(store, "q", { clock, logger: silentLogger, flushIntervalMs: 0 });
}

describe("job ids never repeat within a store", { timeout: 60_000 }, () => {
  it("not after a crash lost a batch, with the clock at or behind the last durable id", async () => {
    const memory = new MemoryStore();
    const clock = new ManualClock(1_700_000_000_000);
    const first = new ProcessStore(memory, memory);
    const crashed = await open(first, clock);
    const durable = await crashed.enqueue("a", "durable");
    // The next batch is in flight when the process dies: its id was issued, never stored.
    first.stall();
    crashed.enqueue("a", "lost").catch(() => {});
    for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
    const lost = liveState(crashed).lastId!;
    assert.ok(lost > durable);
    first.kill();

    const successor = await open(new ProcessStore(memory, memory), clock);
    assert.equal(await successor.getJob(lost), null, "the lost batch is gone");
    const issued = [];
    for (let i = 0; i < 100; i++) issued.push(await successor.enqueue("a", `after ${i}`));
    assert.ok(!issued.includes(lost), `re-issued the lost id ${lost}`);
    for (const id of issued) assert.ok(id > durable);
    await successor.close();
  });
});

describe("IdGenerator.reserve: no generated id is a caller's", () => {
  const NOW = 1_700_000_000_000;

  it("skips the reserved ids still ahead of it, in order, and stays increasing", () => {
    const gen = new IdGenerator(null, 7);
    const first = gen.next(NOW);
    const second = followingId(first);
    const fourth = followingId(followingId(second));
    // Out of order, and one twice: kept sorted, once.
    gen.reserve(fourth);
    gen.reserve(second);
    gen.reserve(second);
    assert.equal(gen.reservedCount, 2);
    const issued = [gen.next(NOW), gen.next(NOW), gen.next(NOW)];
    assert.deepEqual(issued, [
      followingId(second),
      followingId(fourth),
      followingId(followingId(fourth)),
    ]);
    assert.equal(gen.reservedCount, 0, "passed ids are let go");
    assert.equal(gen.issued, 4, "a skipped id is not counted as issued");
  });

  it("a run of reserved ids is skipped whole", () => {
    const gen = new IdGenerator(null, 7);
    let id = gen.next(NOW);
    const run: string[] = [];
    for (let i = 0; i < 5; i++) {
      id = followingId(id);
      run.push(id);
    }
    for (const r of run) gen.reserve(r);
    assert.equal(gen.next(NOW), followingId(run.at(-1)!));
  });

  it("keeps nothing for ids it could never issue", () => {
    const gen = new IdGenerator(null, 7);
    const first = gen.next(NOW);
    const before = gen.next(NOW);
    gen.reserve(first); // issued already
    gen.reserve(before); // the newest issued
    gen.reserve(ulid(NOW)); // another epoch (random middle digits)
    gen.reserve(`${followingId(before).slice(0, 25)}a`); // not canonical (lowercase)
    gen.reserve("job-1");
    gen.reserve(new IdGenerator(null, 8).next(NOW + 1)); // another writer's epoch
    assert.equal(gen.reservedCount, 0);
    gen.reserve(followingId(before));
    assert.equal(gen.reservedCount, 1, "only the id it could issue next");
  });

  it("a generator seeded with the store's newest id reserves only what sorts after it", () => {
    const seed = new IdGenerator(null, 7).next(NOW);
    const gen = new IdGenerator(seed, 7);
    gen.reserve(seed);
    assert.equal(gen.reservedCount, 0);
    gen.reserve(followingId(seed));
    assert.equal(gen.reservedCount, 1);
    assert.equal(gen.next(NOW), followingId(followingId(seed)));
  });

  it("an id of a later millisecond, or given before any id was issued, is not kept", () => {
    // A new millisecond starts its counter at a random value: such an id cannot be predicted,
    // and keeping it would let callers grow the list without bound.
    const gen = new IdGenerator(null, 7);
    gen.reserve(new IdGenerator(null, 7).next(NOW));
    assert.equal(gen.reservedCount, 0, "nothing issued yet");
    gen.next(NOW);
    gen.reserve(new IdGenerator(null, 7).next(NOW + 5));
    assert.equal(gen.reservedCount, 0, "a later millisecond");
  });
});

describe("a caller's jobId spelt like the next generated id, across replays", {
  timeout: 60_000,
}, () => {
  it("two jobs keep two ids after a crash (WAL) and after a clean close (checkpoint), and the next writer does the same", async () => {
    const memory = new MemoryStore();
    const clock = new ManualClock(1_700_000_000_000);
    const first = new ProcessStore(memory, memory);
    const queue = await open(first, clock);
    const a = await queue.enqueue("a", "generated");
    // The enqueue with the jobId takes the id after `a` for its log record: the one after that.
    const taken = followingId(followingId(a));
    assert.equal(await queue.enqueue("a", "caller", { jobId: taken }), taken);
    const c = await queue.enqueue("a", "generated after");
    assert.notEqual(c, taken);
    await queue.flush();
    first.kill();

    const expect = async (q: Queue, when: string): Promise<void> => {
      assert.equal(text((await q.getJob(taken))!.payload), "caller", when);
      assert.equal(text((await q.getJob(c))!.payload), "generated after", when);
      assert.deepEqual(auditState(liveState(q)), [], when);
      const claimed = [];
      for (let i = 0; i < 3; i++) claimed.push((await mustClaim(q, "a")).id);
      assert.deepEqual(claimed.sort(), [a, taken, c].sort(), when);
    };
    const replayed = await open(new ProcessStore(memory, memory), clock);
    await expect(replayed, "replayed from the WAL");
    // The next writer (a new epoch), same millisecond: the same holds for its ids.
    const a2 = await replayed.enqueue("b", "generated");
    const taken2 = followingId(followingId(a2));
    await replayed.enqueue("b", "caller", { jobId: taken2 });
    assert.notEqual(await replayed.enqueue("b", "generated after"), taken2);
    await replayed.close();

    const restored = await open(new ProcessStore(memory, memory), clock);
    assert.equal(text((await restored.getJob(taken))!.payload), "caller");
    assert.equal(text((await restored.getJob(taken2))!.payload), "caller");
    assert.deepEqual(auditState(liveState(restored)), []);
    await restored.close();
  });
});
