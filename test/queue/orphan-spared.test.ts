/**
 * What a pass over orphaned payload objects spares: the objects of calls in
 * flight when it began and those written since, whatever time their names
 * carry, without holding a key per object written during the pass (a long
 * pass over a large folder while the queue writes thousands).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ulid } from "ulid";
import { ManualClock } from "../../src/clock.js";
import {
  ORPHAN_MIN_AGE_MS,
  ORPHAN_PASS_SPACING_MS,
  PayloadObjects,
} from "../../src/queue/payloads.js";
import { State } from "../../src/queue/state.js";
import { MemoryStore } from "../../src/store/memory.js";
import type { ListOptions, ListPage } from "../../src/store/types.js";
import { FaultStore } from "../../src/store/wrappers/fault.js";
import { TurnWindow } from "../../src/util/slices.js";
import { recordingLogger } from "../recording-logger.js";
import { slicesOf } from "../turns.js";
import { until } from "../until.js";

const RETRY = { baseDelayMs: 100, maxDelayMs: 100, maxElapsedMs: 1_000 };
const turn = () => new Promise((resolve) => setImmediate(resolve));

/** A memory store that counts the listings of the payload folder. */
class ListCountingStore extends MemoryStore {
  payloadLists = 0;
  override list(prefix: string, options?: ListOptions): Promise<ListPage> {
    if (prefix === "q/payload/") this.payloadLists++;
    return super.list(prefix, options);
  }
}

/**
 * Payload objects over a store with one old orphan and `recent` orphans
 * named half a minute past the minimum age, and their open's pass held at
 * its listing.
 */
async function passHeldAtListing(recent = 0) {
  const inner = new ListCountingStore();
  const store = new FaultStore(inner);
  const clock = new ManualClock(1_700_000_000_000);
  const orphan = `q/payload/${ulid(clock.now() - 2 * ORPHAN_MIN_AGE_MS)}`;
  await inner.put(orphan, new Uint8Array(20));
  const recentOrphans: string[] = [];
  for (let i = 0; i < recent; i++) {
    recentOrphans.push(`q/payload/${ulid(clock.now() - ORPHAN_MIN_AGE_MS - 30_000 + i)}`);
    await inner.put(recentOrphans[i]!, new Uint8Array(20));
  }
  const payloads = new PayloadObjects(store, "q", 10, {
    clock,
    logger: recordingLogger(),
    retry: RETRY,
  });
  const listing = store.pause({ op: "list", keyPrefix: "q/payload/" });
  // An empty state: an object written during the pass is referenced by no job it knows, as one
  // whose call commits after the pass gathered the references.
  payloads.collectOrphansWhileRunning(
    new State(),
    clock,
    () => clock.now(),
    async () => {},
    slicesOf(() => clock.monotonicNow(), new TurnWindow()),
  );
  await listing.whenHeld();
  const objects = async () => {
    const keys: string[] = [];
    let startAfter: string | undefined;
    do {
      // Not counted: only the passes' listings are.
      const page = await MemoryStore.prototype.list.call(
        inner,
        "q/payload/",
        startAfter === undefined ? {} : { startAfter },
      );
      for (const { key } of page.objects) keys.push(key);
      startAfter = page.nextStartAfter;
    } while (startAfter !== undefined);
    return keys;
  };
  /** Moves the clock by `ms` in steps of a minute, with turns of the event loop between them. */
  const advance = async (ms: number) => {
    for (let moved = 0; moved < ms; moved += 60_000) {
      clock.advance(60_000);
      for (let i = 0; i < 3; i++) await turn();
    }
  };
  return { inner, clock, payloads, listing, orphan, recentOrphans, objects, advance };
}

describe("what a pass over orphaned payload objects spares", { timeout: 30_000 }, () => {
  it("writes during a long pass: no key held per object written, and the pass spares none of them", async () => {
    const { inner, clock, payloads, listing, orphan, objects, advance } = await passHeldAtListing();
    const written: string[] = [];
    for (let i = 0; i < 2_000; i++) {
      const ref = await payloads.write(new Uint8Array(20), clock.now());
      payloads.release([ref.key]);
      written.push(ref.key);
    }
    assert.equal(payloads.passSparedKeys, 0);
    listing.release();
    await until(async () => !(await objects()).includes(orphan), "the orphan collected", 5_000);
    assert.equal((await objects()).length, written.length);
    assert.equal(payloads.passSparedKeys, 0);
    // Nothing was spared by the time in its name: no other pass (the one listed in pages).
    const lists = inner.payloadLists;
    await advance(4 * 60 * 60_000);
    assert.equal(inner.payloadLists, lists);
    payloads.stop(new Error("closed"));
  });

  it("an object written during the pass while the wall clock was set back is spared, though its name says it is old", async () => {
    const { clock, payloads, listing, orphan, objects } = await passHeldAtListing();
    clock.stepWall(-ORPHAN_MIN_AGE_MS - 60_000);
    const ref = await payloads.write(new Uint8Array(20), clock.now());
    payloads.release([ref.key]);
    clock.stepWall(ORPHAN_MIN_AGE_MS + 60_000);
    listing.release();
    await until(async () => !(await objects()).includes(orphan), "the orphan collected", 5_000);
    assert.deepEqual(await objects(), [ref.key]);
  });

  it("orphans spared because the wall clock was set back during the pass: a later pass, a spacing after it, collects them", async () => {
    const { inner, clock, payloads, listing, orphan, recentOrphans, objects, advance } =
      await passHeldAtListing(3);
    // Named as older than the three recent orphans: the pass spares them all.
    clock.stepWall(-ORPHAN_MIN_AGE_MS - 60_000);
    const ref = await payloads.write(new Uint8Array(20), clock.now());
    payloads.release([ref.key]);
    clock.stepWall(ORPHAN_MIN_AGE_MS + 60_000);
    listing.release();
    await until(async () => !(await objects()).includes(orphan), "the old orphan collected", 5_000);
    for (let i = 0; i < 10; i++) await turn();
    assert.deepEqual((await objects()).sort(), [...recentOrphans, ref.key].sort());
    assert.equal(inner.payloadLists, 1);
    // Not before a spacing after the pass.
    await advance(ORPHAN_PASS_SPACING_MS - 60_000);
    assert.equal(inner.payloadLists, 1);
    await advance(2 * 60_000);
    await until(async () => (await objects()).length === 0, "the spared orphans collected", 5_000);
    assert.equal(inner.payloadLists, 2);
    payloads.stop(new Error("closed"));
  });
});
