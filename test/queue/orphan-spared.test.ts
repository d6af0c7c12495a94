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
import { ORPHAN_MIN_AGE_MS, PayloadObjects } from "../../src/queue/payloads.js";
import { State } from "../../src/queue/state.js";
import { MemoryStore } from "../../src/store/memory.js";
import { FaultStore } from "../../src/store/wrappers/fault.js";
import { recordingLogger } from "../recording-logger.js";
import { until } from "../until.js";

const RETRY = { baseDelayMs: 100, maxDelayMs: 100, maxElapsedMs: 1_000 };

/** Payload objects over a store with one old orphan, and their open's pass held at its listing. */
async function passHeldAtListing() {
  const inner = new MemoryStore();
  const store = new FaultStore(inner);
  const clock = new ManualClock(1_700_000_000_000);
  const orphan = `q/payload/${ulid(clock.now() - 2 * ORPHAN_MIN_AGE_MS)}`;
  await inner.put(orphan, new Uint8Array(20));
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
    () => clock.monotonicNow(),
  );
  await listing.whenHeld();
  const objects = async () => {
    const keys: string[] = [];
    let startAfter: string | undefined;
    do {
      const page = await inner.list("q/payload/", startAfter === undefined ? {} : { startAfter });
      for (const { key } of page.objects) keys.push(key);
      startAfter = page.nextStartAfter;
    } while (startAfter !== undefined);
    return keys;
  };
  return { clock, payloads, listing, orphan, objects };
}

describe("what a pass over orphaned payload objects spares", { timeout: 30_000 }, () => {
  it("writes during a long pass: no key held per object written, and the pass spares none of them", async () => {
    const { clock, payloads, listing, orphan, objects } = await passHeldAtListing();
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
});
