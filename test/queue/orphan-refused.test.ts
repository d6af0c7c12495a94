/**
 * Orphaned payload objects the store refuses to delete for good (a
 * permission or a retention rule): the writer remembers them and later
 * collections skip them, so that objects it refuses, older than every other,
 * no longer hold every later collection at them; a store that refuses every
 * delete still costs few requests per collection; a remembered object is
 * tried again after REFUSED_ORPHAN_RETRY_MS, or at the next open.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ManualClock } from "../../src/clock.js";
import {
  ORPHAN_MIN_AGE_MS,
  ORPHAN_PASS_MAX_SPACING_MS,
  ORPHAN_PASS_SPACING_MS,
  ORPHAN_REFUSALS_IN_A_ROW,
} from "../../src/queue/payloads.js";
import { Queue } from "../../src/queue/queue.js";
import {
  REFUSED_ORPHAN_RETRY_MS,
  REFUSED_ORPHANS_REMEMBERED,
  RefusedOrphans,
} from "../../src/queue/refused-orphans.js";
import { MemoryStore } from "../../src/store/memory.js";
import type { ListOptions, ListPage, ObjectStore } from "../../src/store/types.js";
import { FaultStore } from "../../src/store/wrappers/fault.js";
import { recordingLogger } from "../recording-logger.js";
import { until } from "../until.js";
import {
  BIG,
  ListCountingStore,
  orphanTestOptions,
  putOldOrphans,
  refuseDeletesForGood,
  refusedForGood,
} from "./orphan-setup.js";

/**
 * A FaultStore that records the payload objects the queue asks it to delete,
 * and when (on `clock`'s monotonic time) it lists their folder.
 */
class DeleteRecordingStore extends FaultStore {
  readonly deletes: string[] = [];
  readonly listedAt: number[] = [];
  readonly #clock: ManualClock;
  constructor(inner: ObjectStore, clock: ManualClock) {
    super(inner);
    this.#clock = clock;
  }
  override delete(key: string): Promise<void> {
    if (key.startsWith("q/payload/")) this.deletes.push(key);
    return super.delete(key);
  }
  override list(prefix: string, options?: ListOptions): Promise<ListPage> {
    if (prefix === "q/payload/") this.listedAt.push(this.#clock.monotonicNow());
    return super.list(prefix, options);
  }
}

const collectedLater = (message: string) => message.includes("collected later");
const turn = () => new Promise((resolve) => setImmediate(resolve));
const DAY_MS = 24 * 60 * 60_000;

/**
 * A store holding `count` old orphans (oldest first in `keys`) and `live`
 * queued jobs whose payload objects are listed after them, opened through a
 * FaultStore whose rules `beforeOpen` adds.
 */
async function openOverOrphans(
  count: number,
  beforeOpen: (keys: string[], faults: FaultStore) => void,
  live = 0,
) {
  const inner = new ListCountingStore();
  const clock = new ManualClock(1_700_000_000_000);
  const faults = new DeleteRecordingStore(inner, clock);
  const logger = recordingLogger();
  const options = orphanTestOptions(clock, logger);
  const first = await Queue.open(inner, "q", options);
  const keys = await putOldOrphans(inner, clock, count);
  for (let i = 0; i < live; i++) await first.enqueue("work", BIG);
  await first.close();
  logger.lines.length = 0;
  inner.payloadLists = 0;
  beforeOpen(keys, faults);
  const queue = await Queue.open(faults, "q", options);
  const objects = async () =>
    (await MemoryStore.prototype.list.call(inner, "q/payload/")).objects.map((o) => o.key);
  /** Moves the clock by `ms` in steps, with turns of the event loop between them. */
  const pass = async (ms: number, step = 5_000) => {
    for (let moved = 0; moved < ms; moved += step) {
      clock.advance(step);
      for (let i = 0; i < 3; i++) await turn();
    }
  };
  /** Waits (moving the clock: retries wait on it) until `lists` listings of the folder ended. */
  const listed = async (lists: number) => {
    await until(
      () => {
        clock.advance(100);
        return inner.payloadLists >= lists;
      },
      `${lists} listings`,
      5_000,
    );
    // The pass goes on to its deletes at once: give it the turns.
    for (let i = 0; i < 30; i++) {
      clock.advance(100);
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
  };
  /** Leaves a reason for a pass: a write that stores its object and then fails. */
  const leaveReason = async () => {
    const unfail = faults.addRule({
      op: "put",
      keyPrefix: "q/payload/",
      mode: "after",
      times: 1,
      error: refusedForGood,
    });
    await assert.rejects(queue.enqueue("work", BIG), /AccessDenied/);
    unfail();
  };
  return { inner, faults, clock, logger, options, queue, keys, objects, pass, listed, leaveReason };
}

describe("orphaned payload objects the store refuses to delete for good", {
  timeout: 60_000,
}, () => {
  it(`${ORPHAN_REFUSALS_IN_A_ROW} refused objects older than every other: a later collection skips them and collects the others, one warning`, async () => {
    const refusedCount = ORPHAN_REFUSALS_IN_A_ROW;
    const { faults, logger, queue, keys, objects, pass, listed, leaveReason } =
      await openOverOrphans(refusedCount + 4, (keys, faults) => {
        refuseDeletesForGood(faults, keys.slice(0, refusedCount));
      });
    const refused = keys.slice(0, refusedCount);
    // The open's collection ends at the refusals in a row: the others wait.
    await listed(1);
    assert.equal(faults.injectedCount, refusedCount);
    assert.deepEqual(await objects(), keys);
    // Something leaves an orphan: the next collection skips the refused objects.
    await leaveReason();
    await pass(ORPHAN_MIN_AGE_MS + 2 * ORPHAN_PASS_MAX_SPACING_MS, 30_000);
    await until(
      async () => (await objects()).filter((key) => !refused.includes(key)).length === 0,
      "the other orphans collected",
      5_000,
    );
    assert.deepEqual(await objects(), refused);
    assert.equal(faults.injectedCount, refusedCount + 1, "no refused object tried again");
    assert.deepEqual(
      logger.messages("warn", "error").filter(collectedLater).length,
      1,
      JSON.stringify(logger.messages("warn", "error")),
    );
    await queue.close();
  });

  it(`${ORPHAN_REFUSALS_IN_A_ROW} refused objects end the open's collection: another follows, backed off a spacing, without another reason, and collects the others; none tried again within a day`, async () => {
    const n = ORPHAN_REFUSALS_IN_A_ROW;
    const { inner, faults, queue, keys, objects, pass, listed } = await openOverOrphans(
      n + 4,
      (keys, faults) => {
        refuseDeletesForGood(faults, keys.slice(0, n));
      },
    );
    const refused = keys.slice(0, n);
    await listed(1);
    assert.deepEqual(faults.deletes, refused, "the open's collection");
    assert.deepEqual(await objects(), keys);
    // Nothing else leaves an orphan. The open's collection deleted nothing: the spacing doubled.
    await pass(2 * ORPHAN_PASS_SPACING_MS + 30_000, 30_000);
    await until(async () => (await objects()).length === n, "the others collected", 5_000);
    assert.deepEqual(await objects(), refused);
    assert.equal(inner.payloadLists, 2);
    // That one deleted what it tried: no further collection, and no refused object tried again.
    await pass(DAY_MS, 10 * 60_000);
    assert.equal(inner.payloadLists, 2, "no collection without a reason");
    assert.equal(faults.deletes.filter((key) => refused.includes(key)).length, n);
    assert.deepEqual(await objects(), refused);
    await queue.close();
  });

  for (const live of [0, 3]) {
    it(`${ORPHAN_REFUSALS_IN_A_ROW} refused objects${live === 0 ? ", the last listed" : `, then ${live} live jobs' payloads`}: the collection tries nothing after them, so no other follows within a day`, async () => {
      const n = ORPHAN_REFUSALS_IN_A_ROW;
      const { inner, faults, queue, keys, objects, pass, listed } = await openOverOrphans(
        n,
        (keys, faults) => {
          refuseDeletesForGood(faults, keys);
        },
        live,
      );
      await listed(1);
      assert.deepEqual(faults.deletes, keys, "the open's collection");
      await pass(DAY_MS, 10 * 60_000);
      assert.equal(inner.payloadLists, 1, "one listing in a day");
      assert.deepEqual(faults.deletes, keys, "nothing else tried");
      assert.equal((await objects()).length, n + live);
      assert.equal((await queue.stats("work")).pending, live);
      await queue.close();
    });
  }

  it(`a store that refuses every delete: each collection tries at most ${ORPHAN_REFUSALS_IN_A_ROW} objects, new ones each time, and the next follows backed off, up to ${ORPHAN_PASS_MAX_SPACING_MS / 60_000} min apart`, async () => {
    const n = ORPHAN_REFUSALS_IN_A_ROW;
    // More orphans than a day of collections reaches.
    const { faults, queue, keys, pass, listed } = await openOverOrphans(200, (_keys, faults) => {
      faults.addRule({
        op: "delete",
        keyPrefix: "q/payload/",
        mode: "before",
        error: refusedForGood,
      });
    });
    await listed(1);
    assert.deepEqual(faults.deletes, keys.slice(0, n), "the open's collection");
    // Nothing else leaves an orphan: each collection is the reason for the next.
    const start = faults.listedAt[0]!;
    await pass(DAY_MS, 60_000);
    const lists = faults.listedAt.length;
    assert.ok(lists >= 20, `${lists} collections in a day`);
    // Each tries the next objects of the listing (oldest first), none tried before, until
    // REFUSED_ORPHAN_RETRY_MS after the first refusals, when the oldest refused are tried again.
    assert.equal(faults.deletes.length, n * lists);
    const fresh = faults.listedAt.filter((at) => at - start < REFUSED_ORPHAN_RETRY_MS).length;
    assert.deepEqual(faults.deletes.slice(0, n * fresh), keys.slice(0, n * fresh));
    assert.deepEqual(faults.deletes.slice(n * fresh, n * fresh + n), keys.slice(0, n));
    // Backed off: 5, 10, 20 and 40 min apart, then an hour; never closer.
    const gaps = faults.listedAt.slice(1).map((at, i) => at - faults.listedAt[i]!);
    for (const [i, gap] of gaps.entries()) {
      const least = Math.min(ORPHAN_PASS_SPACING_MS * 2 ** (i + 1), ORPHAN_PASS_MAX_SPACING_MS);
      assert.ok(gap >= least, `gap ${i} of ${gap} ms: ${gaps}`);
    }
    // A day costs at most one collection an hour after the first four, each of 5 refused deletes.
    const bound = n * (4 + Math.ceil(DAY_MS / ORPHAN_PASS_MAX_SPACING_MS) + 1);
    assert.ok(
      faults.deletes.length <= bound,
      `${faults.deletes.length} refused deletes > ${bound}`,
    );
    await queue.close();
  });

  it("a refused object is tried again once REFUSED_ORPHAN_RETRY_MS passed: collected then if the store lets it go", async () => {
    const { faults, queue, keys, objects, pass, listed, leaveReason } = await openOverOrphans(
      ORPHAN_REFUSALS_IN_A_ROW,
      (keys, faults) => {
        refuseDeletesForGood(faults, keys);
      },
    );
    await listed(1);
    assert.equal(faults.injectedCount, ORPHAN_REFUSALS_IN_A_ROW);
    faults.clearRules();
    // A collection before then skips them.
    await leaveReason();
    await pass(ORPHAN_MIN_AGE_MS + 2 * ORPHAN_PASS_MAX_SPACING_MS, 60_000);
    await listed(2);
    assert.deepEqual(await objects(), keys);
    // After then, they are tried again.
    await pass(REFUSED_ORPHAN_RETRY_MS, 10 * 60_000);
    await leaveReason();
    await pass(ORPHAN_MIN_AGE_MS + 2 * ORPHAN_PASS_MAX_SPACING_MS, 60_000);
    await until(async () => (await objects()).length === 0, "the orphans collected", 5_000);
    await queue.close();
  });

  it(`remembers at most ${REFUSED_ORPHANS_REMEMBERED} refused objects, forgetting the earliest refused first, each for REFUSED_ORPHAN_RETRY_MS`, () => {
    const clock = new ManualClock();
    const refused = new RefusedOrphans(clock);
    const key = (i: number) => `q/payload/${String(i).padStart(26, "0")}`;
    for (let i = 0; i < REFUSED_ORPHANS_REMEMBERED + 100; i++) refused.refused(key(i));
    assert.equal(refused.size, REFUSED_ORPHANS_REMEMBERED);
    assert.equal(refused.skips(key(99)), false);
    assert.equal(refused.skips(key(100)), true);
    assert.equal(refused.skips(key(REFUSED_ORPHANS_REMEMBERED + 99)), true);
    // Forgotten, then refused again later: remembered from then on, the earliest forgotten for it.
    clock.advance(REFUSED_ORPHAN_RETRY_MS / 2);
    refused.refused(key(99));
    assert.equal(refused.skips(key(99)), true);
    assert.equal(refused.skips(key(100)), false);
    assert.equal(refused.size, REFUSED_ORPHANS_REMEMBERED);
    clock.advance(REFUSED_ORPHAN_RETRY_MS / 2);
    refused.expire();
    assert.equal(refused.size, 1);
    assert.equal(refused.skips(key(99)), true);
    clock.advance(REFUSED_ORPHAN_RETRY_MS / 2);
    refused.expire();
    assert.equal(refused.size, 0);
  });
});
