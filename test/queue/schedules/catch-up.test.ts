/**
 * `catchUp` at open: it decides only the fire times missed while no process
 * owned the store (up to the moment the opening process took it, which comes
 * after it has read and verified the checkpoint and the WAL). `"all"`
 * fires at most `MAX_CATCH_UP_FIRES` missed times, the newest.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ManualClock } from "../../../src/clock.js";
import { MAX_CATCH_UP_FIRES } from "../../../src/queue/schedules/catch-up.js";
import { FIRES_PER_TURN } from "../../../src/queue/schedules/runner.js";
import { MemoryStore } from "../../../src/store/memory.js";
import type { StoredObject } from "../../../src/store/types.js";
import { recordingLogger } from "../../recording-logger.js";
import { clockAt, firesOf, open, settle, settleFires } from "./helpers.js";

const MINUTE = 60_000;
const HOUR = 3_600_000;

/**
 * A store whose next read of the checkpoint or the WAL takes `ms` of the clock.
 * An open reads them before it takes the store over (it verifies what it can
 * before fencing the previous owner), so that time is still time no process
 * owned the store: fire times in it are missed ones, decided by `catchUp`.
 */
class SlowReplayStore extends MemoryStore {
  slowMs = 0;
  constructor(readonly clock: ManualClock) {
    super();
  }
  override async get(key: string): Promise<StoredObject | null> {
    if (this.slowMs > 0 && (key.startsWith("q/checkpoint/") || key.startsWith("q/wal/"))) {
      this.clock.advance(this.slowMs);
      this.slowMs = 0;
    }
    return super.get(key);
  }
}

describe("schedules: catch-up at open", () => {
  for (const catchUp of ["none", "latest", "all"] as const) {
    it(`catchUp "${catchUp}": fire times that come due while the opener reads the store before taking it are missed ones`, async () => {
      const clock = clockAt("2027-01-01T00:00:00Z");
      const t0 = clock.now();
      const store = new SlowReplayStore(clock);
      let queue = await open(store, clock);
      await queue.schedule("h", { everyMs: HOUR, queue: "jobs", payload: "", catchUp });
      clock.advance(HOUR);
      await settle(queue);
      await queue.close();
      // Closed from +1h to +4h30; the open's read before it takes the store lasts until +5h30:
      // +2h, +3h, +4h and +5h are all missed.
      clock.advance(3.5 * HOUR);
      store.slowMs = HOUR;
      queue = await open(store, clock);
      await settle(queue);
      assert.equal(store.slowMs, 0, "the replay read the store");
      const missed = { none: [], latest: [5], all: [2, 3, 4, 5] }[catchUp];
      assert.deepEqual(
        await firesOf(queue, "jobs", "h"),
        [1, ...missed].map((k) => t0 + k * HOUR),
      );
      await queue.close();
    });
  }

  for (const timing of [{ everyMs: MINUTE }, { cron: "* * * * *", timezone: "Europe/Paris" }]) {
    it(`catchUp "all" fires at most ${MAX_CATCH_UP_FIRES} missed times, the newest (${JSON.stringify(timing)})`, async () => {
      const clock = clockAt("2027-01-01T00:00:00Z");
      const t0 = clock.now();
      const logger = recordingLogger();
      const store = new MemoryStore();
      let queue = await open(store, clock);
      await queue.schedule("m", { ...timing, queue: "jobs", payload: "", catchUp: "all" });
      await queue.close();
      clock.advance(1_500 * MINUTE + 30_000);
      queue = await open(store, clock, { logger });
      await settleFires(queue, clock.now());
      const fires = await firesOf(queue, "jobs", "m");
      assert.deepEqual(
        fires,
        Array.from({ length: MAX_CATCH_UP_FIRES }, (_, k) => t0 + (501 + k) * MINUTE),
      );
      assert.equal(logger.messages("warn").length, 1);
      assert.match(logger.messages("warn")[0]!, /catchUp "all" fires the newest 1000/);
      // Exactly the cap missed: all fire, nothing is said.
      await queue.close();
      logger.lines.length = 0;
      clock.advance(MAX_CATCH_UP_FIRES * MINUTE);
      queue = await open(store, clock, { logger });
      await settleFires(queue, clock.now());
      assert.equal((await firesOf(queue, "jobs", "m")).length, 2 * MAX_CATCH_UP_FIRES);
      assert.deepEqual(logger.messages("warn"), []);
      await queue.close();
    });
  }

  it("a close fires what is already due first, so catchUp none at the next open skips nothing the closed process owed", async () => {
    const clock = clockAt("2027-03-13T12:00:00Z");
    const store = new MemoryStore();
    let queue = await open(store, clock);
    await queue.schedule("ping", { everyMs: MINUTE, queue: "pings", payload: "", catchUp: "none" });
    // 300 minutes pass in one synchronous step while this process owns the store; it
    // closes before the fires (at most FIRES_PER_TURN per turn of the event loop) are made.
    assert.ok(FIRES_PER_TURN < 300);
    clock.advance(300 * MINUTE);
    await queue.close();
    clock.advance(3 * HOUR); // no process owns the store: these three are skipped
    queue = await open(store, clock);
    await settle(queue);
    assert.equal((await queue.stats("pings")).pending, 300);
    await queue.close();
  });
});
