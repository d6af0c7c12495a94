/**
 * Setting a schedule again exactly as it is (an application that declares its
 * schedules at every start) keeps it: an `everyMs` schedule goes on counting
 * from when it was first set, so restarts more frequent than `everyMs` do not
 * postpone its fires for ever. A changed spec still replaces it.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { memoryAndFileStores } from "../helpers.js";
import { clockAt, firesOf, open, settle } from "./helpers.js";

const SECOND = 1_000;
const MINUTE = 60_000;

describe("schedules: declared again at every start", () => {
  for (const [storeName, makeStore] of memoryAndFileStores("taquba-redeclare-")) {
    it(`${storeName}: an everyMs schedule declared at each of 6 starts 50 s apart fires every minute`, async () => {
      const clock = clockAt("2027-01-01T00:00:00Z");
      const t0 = clock.now();
      const store = await makeStore();
      const spec = { everyMs: MINUTE, queue: "jobs", payload: "tick" } as const;
      for (let start = 0; start < 6; start++) {
        const queue = await open(store, clock);
        await queue.schedule("minutely", spec);
        for (let step = 0; step < 5; step++) {
          clock.advance(10 * SECOND);
          await settle(queue);
        }
        await queue.close();
      }
      const queue = await open(store, clock);
      await settle(queue);
      assert.deepEqual(
        await firesOf(queue, "jobs", "minutely"),
        [1, 2, 3, 4, 5].map((k) => t0 + k * MINUTE),
      );
      const [info] = await queue.listSchedules();
      assert.equal(info?.nextRunAt, t0 + 6 * MINUTE);
      await queue.close();
    });

    it(`${storeName}: a changed spec replaces the schedule and starts a new count`, async () => {
      const clock = clockAt("2027-01-01T00:00:00Z");
      const t0 = clock.now();
      const store = await makeStore();
      let queue = await open(store, clock);
      await queue.schedule("minutely", { everyMs: MINUTE, queue: "jobs", payload: "a" });
      clock.advance(30 * SECOND);
      await settle(queue);
      await queue.close();
      queue = await open(store, clock);
      await queue.schedule("minutely", { everyMs: MINUTE, queue: "jobs", payload: "b" });
      const [info] = await queue.listSchedules();
      assert.equal(info?.nextRunAt, t0 + 30 * SECOND + MINUTE);
      assert.equal(Buffer.from(info!.payload).toString(), "b");
      await queue.close();
    });

    it(`${storeName}: a replace not yet written is not overtaken by a later identical call`, async () => {
      const clock = clockAt("2027-01-01T00:00:00Z");
      const store = await makeStore();
      const queue = await open(store, clock);
      const x = { everyMs: MINUTE, queue: "jobs", payload: "x" } as const;
      const y = { everyMs: MINUTE, queue: "jobs", payload: "y" } as const;
      await queue.schedule("s", x);
      clock.advance(30 * SECOND);
      // Called in this order: y, then x (as stored). The last call wins, as for any two calls.
      const replacing = queue.schedule("s", y);
      await queue.schedule("s", x);
      await replacing;
      const [info] = await queue.listSchedules();
      assert.equal(Buffer.from(info!.payload).toString(), "x");
      await queue.close();
      const reopened = await open(store, clock);
      const [after] = await reopened.listSchedules();
      assert.equal(Buffer.from(after!.payload).toString(), "x", "x is the one stored");
      await reopened.close();
    });
  }
});
