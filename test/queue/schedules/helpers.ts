import assert from "node:assert/strict";
import { ManualClock } from "../../../src/clock.js";
import { silentLogger } from "../../../src/logger.js";
import type { OpenOptions } from "../../../src/queue/options.js";
import { Queue } from "../../../src/queue/queue.js";
import type { ScheduleDefinition } from "../../../src/queue/schedules/types.js";
import type { ObjectStore } from "../../../src/store/types.js";
import { SLICE_CLOCK } from "../../../src/util/slices.js";

/** Opens the queue store "q" of `store` with `clock` (quiet, no group-commit wait). */
export function open(
  store: ObjectStore,
  clock: ManualClock,
  options: OpenOptions = {},
): Promise<Queue> {
  return Queue.open(store, "q", { clock, logger: silentLogger, flushIntervalMs: 0, ...options });
}

/**
 * Open options whose slices of work run on a clock that never moves: a turn
 * does a fixed amount of work (its count caps), however slow the machine.
 */
export function frozenSlices(): OpenOptions {
  return { [SLICE_CLOCK]: () => 0 } as OpenOptions;
}

/** A clock at the ISO time `iso`. */
export function clockAt(iso: string): ManualClock {
  return new ManualClock(Date.parse(iso));
}

/** Lets background fires (sliced over turns of the event loop) and their writes finish. */
export async function settle(queue: Queue): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
  await queue.flush();
}

/**
 * Fire times of schedule `name` enqueued into `queue` so far (from the dedup
 * keys of its waiting jobs), in job order.
 */
export async function firesOf(queue: Queue, queueName: string, name: string): Promise<number[]> {
  const times: number[] = [];
  for (const status of ["pending", "scheduled"] as const) {
    let cursor: string | undefined;
    do {
      const page = await queue.listJobs(queueName, status, {
        limit: 1000,
        ...(cursor === undefined ? {} : { cursor }),
      });
      for (const job of page.jobs) {
        const match = /^schedule:(.*):(\d+)$/.exec(job.dedupKey ?? "");
        if (match !== null && match[1] === name) times.push(Number(match[2]));
      }
      cursor = page.nextCursor;
    } while (cursor !== undefined);
  }
  return times.sort((a, b) => a - b);
}

/** ISO strings of epoch times, for readable assertions. */
export function isos(times: readonly number[]): string[] {
  return times.map((t) => new Date(t).toISOString());
}

/**
 * Lets background fires run until no schedule of `queue` is due at `now`
 * (many fires take many turns of the event loop).
 */
export async function settleFires(queue: Queue, now: number): Promise<void> {
  for (let i = 0; i < 10_000; i++) {
    await settle(queue);
    const due = (await queue.listSchedules()).some(
      (s) => s.nextRunAt !== null && s.nextRunAt <= now,
    );
    if (!due) return;
  }
  throw new Error("schedules still due after 10 000 turns");
}

/**
 * A schedule as stored in the log (a cron in `timezone`, queue "reports", payload `{}`), for
 * tests that write a `ScheduleSet` record directly: one a current `schedule()` would refuse.
 */
export function definition(
  name: string,
  timezone: string,
  cron = "0 3 * * *",
  setAt = Date.parse("2026-01-01T00:00:00Z"),
): ScheduleDefinition {
  return {
    name,
    cron,
    everyMs: undefined,
    timezone,
    queue: "reports",
    payload: Buffer.from("{}"),
    options: undefined,
    startAt: undefined,
    endAt: undefined,
    catchUp: "latest",
    setAt,
  };
}

/**
 * Schedules each `[name, cron, timezone, next]` of `cases` (an empty payload to
 * queue "jobs") and asserts each is listed without an error, next due at `next`
 * (an ISO time).
 */
export async function assertNextRuns(
  queue: Queue,
  cases: ReadonlyArray<readonly [string, string, string, string]>,
): Promise<void> {
  for (const [name, cron, timezone] of cases)
    await queue.schedule(name, { cron, timezone, queue: "jobs", payload: "" });
  const listed = new Map((await queue.listSchedules()).map((s) => [s.name, s]));
  for (const [name, , , next] of cases) {
    assert.equal(listed.get(name)?.error, undefined, name);
    assert.equal(new Date(listed.get(name)!.nextRunAt!).toISOString(), next, name);
  }
}
