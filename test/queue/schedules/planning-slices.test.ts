/**
 * The planning at open runs in slices of the queue's length (`sliceMs`, as
 * `setSliceMs` sets it), like the scheduler's fires: at 0 ms it plans one
 * schedule per turn. The slice clock here never moves, so only the slice's
 * length can end a slice, and the croner searches made before the next
 * check phase after the planning starts count the schedules planned in
 * that turn.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { QueueCore } from "../../../src/queue/core.js";
import { ScheduleRunner } from "../../../src/queue/schedules/runner.js";
import { MemoryStore } from "../../../src/store/memory.js";
import { cronSearchesDuring } from "./cron-spy.js";
import { clockAt, frozenSlices, open, settle } from "./helpers.js";

const SCHEDULES = 20;

/** The slice length the next open's core takes before its planning starts. */
let sliceMsAtStart: number | undefined;
/** Croner searches made by the planning in the turn it starts, at the last open. */
let searchesInFirstTurn = 0;
let searches: readonly string[] = [];

const coreStart = QueueCore.prototype.start;
const runnerStart = ScheduleRunner.prototype.start;

before(() => {
  QueueCore.prototype.start = function (this: QueueCore, ownedAt: number) {
    if (sliceMsAtStart !== undefined) this.sliceMs = sliceMsAtStart;
    return coreStart.call(this, ownedAt);
  };
  ScheduleRunner.prototype.start = function (this: ScheduleRunner, ownedAt: number) {
    const from = searches.length;
    runnerStart.call(this, ownedAt);
    setImmediate(() => {
      searchesInFirstTurn = searches.length - from;
    });
  };
});

after(() => {
  QueueCore.prototype.start = coreStart;
  ScheduleRunner.prototype.start = runnerStart;
});

async function storeWithCrons(): Promise<MemoryStore> {
  const store = new MemoryStore();
  const queue = await open(store, clockAt("2026-01-01T01:00:00Z"));
  for (let i = 0; i < SCHEDULES; i++)
    await queue.schedule(`s${i}`, { cron: `${i} 3 * * *`, queue: "jobs", payload: "" });
  await queue.close();
  return store;
}

describe("the planning at open takes the queue's slice length", () => {
  for (const sliceMs of [0, 4]) {
    it(`plans ${SCHEDULES} schedules with slices of ${sliceMs} ms`, async () => {
      const store = await storeWithCrons();
      sliceMsAtStart = sliceMs;
      try {
        const { result, searches: all } = await cronSearchesDuring(async (list) => {
          searches = list;
          const queue = await open(store, clockAt("2026-01-01T01:00:00Z"), frozenSlices());
          try {
            await settle(queue);
            return await queue.listSchedules();
          } finally {
            await queue.close();
          }
        });
        assert.equal(result.length, SCHEDULES);
        assert.ok(result.every((s) => s.error === undefined && s.nextRunAt !== null));
        assert.ok(all.length >= SCHEDULES, `${all.length} searches`);
        // At 0 ms a turn plans at most one schedule (a parse's probe and a search).
        if (sliceMs === 0) assert.ok(searchesInFirstTurn <= 2, `${searchesInFirstTurn} searches`);
        else assert.ok(searchesInFirstTurn >= SCHEDULES, `${searchesInFirstTurn} searches`);
      } finally {
        sliceMsAtStart = undefined;
        searches = [];
      }
    });
  }
});
