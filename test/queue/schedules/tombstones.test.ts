/**
 * A schedule removed and created again under the same name never fires a
 * time its predecessor fired, even after a wall-clock step back and a
 * restart (the tombstone comes back from the checkpoint) or a takeover (from
 * the log's replay).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Queue } from "../../../src/queue/queue.js";
import { MemoryStore } from "../../../src/store/memory.js";
import { clockAt, open, settle } from "./helpers.js";

const MINUTE = 60_000;

/** Claims and acks every pending job of "jobs" (freeing their dedup keys); their fire times. */
async function drain(queue: Queue): Promise<number[]> {
  await settle(queue);
  const times: number[] = [];
  for (;;) {
    const { jobs } = await queue.listJobs("jobs", "pending", { limit: 1_000 });
    if (jobs.length === 0) return times;
    for (const job of jobs) times.push(Number(/:(\d+)$/.exec(job.dedupKey!)![1]));
    for (const claim of await queue.claimBatch("jobs", jobs.length)) await queue.ack(claim);
  }
}

describe("schedules: tombstones", () => {
  for (const restart of ["close and reopen", "takeover"] as const) {
    it(`unschedule, ${restart}, clock step back, schedule again: no time fires twice`, async () => {
      const store = new MemoryStore();
      const clock = clockAt("2027-05-01T00:00:00Z");
      const t0 = clock.now();
      const spec = { cron: "* * * * *", queue: "jobs", payload: "" };
      const first = await open(store, clock);
      await first.schedule("m", spec);
      clock.advance(3 * MINUTE);
      const fired = await drain(first);
      assert.deepEqual(
        fired,
        [1, 2, 3].map((k) => t0 + k * MINUTE),
      );
      assert.equal(await first.unschedule("m"), true);
      await first.flush();
      if (restart === "close and reopen") await first.close();
      const second = await open(store, clock);
      clock.stepWall(-10 * MINUTE);
      await second.schedule("m", spec);
      assert.equal((await second.listSchedules())[0]!.nextRunAt, t0 + 4 * MINUTE);
      for (let i = 0; i < 15; i++) {
        clock.advance(MINUTE);
        fired.push(...(await drain(second)));
      }
      // Wall time went from t0 - 7 min to t0 + 8 min: only the times after t0 + 3 min fire.
      assert.deepEqual(
        fired,
        [1, 2, 3, 4, 5, 6, 7, 8].map((k) => t0 + k * MINUTE),
      );
      await second.close();
      await first.close().catch(() => undefined);
    });
  }

  it("a name whose schedule was never fired, created again, starts from its new set time", async () => {
    const clock = clockAt("2027-05-01T00:00:30Z");
    const queue = await open(new MemoryStore(), clock);
    await queue.schedule("m", { everyMs: MINUTE, queue: "jobs", payload: "" });
    await queue.unschedule("m");
    clock.advance(10 * MINUTE);
    await queue.schedule("m", { everyMs: MINUTE, queue: "jobs", payload: "" });
    clock.advance(MINUTE);
    assert.deepEqual(await drain(queue), [clock.now()]);
    await queue.close();
  });
});
