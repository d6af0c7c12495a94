/**
 * Property: over random schedules and random histories of clock moves, wall
 * steps, restarts (close, time passes, reopen), takeovers (a second process
 * opens the store without the first closing), replacements (the same name
 * with a new spec), removals and re-creations, the durable fire times are
 * exactly those of a model that fires every time due while a process owns
 * the store and applies `catchUp` at each open: never a duplicate, never a
 * miss.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import type { Queue } from "../../../src/queue/queue.js";
import { QueueReader } from "../../../src/queue/reader.js";
import { lastFireUpTo, nextFireAfter } from "../../../src/queue/schedules/timing.js";
import type {
  CatchUp,
  ScheduleDefinition,
  ScheduleSpec,
} from "../../../src/queue/schedules/types.js";
import { MemoryStore } from "../../../src/store/memory.js";
import { clockAt, open, settle } from "./helpers.js";

const INTERVAL = 1_000;

type Timing = Pick<ScheduleSpec, "cron" | "everyMs" | "timezone">;

type Op =
  | { kind: "advance"; ms: number }
  | { kind: "step"; ms: number }
  | { kind: "restart"; gapMs: number; stepMs: number }
  | { kind: "takeover" }
  | { kind: "set"; timing: Timing; catchUp: CatchUp }
  | { kind: "unschedule" };

const timing: fc.Arbitrary<Timing> = fc.oneof(
  fc.record({ everyMs: fc.integer({ min: 60_000, max: 2 * 3_600_000 }) }),
  fc.record({
    cron: fc.constantFrom("*/7 * * * *", "0 * * * *", "30 2 * * *", "15,45 1-3 * * *", "0 0 L * *"),
    timezone: fc.constantFrom("UTC", "America/New_York", "Europe/Berlin", "Australia/Lord_Howe"),
  }),
);

const catchUps = fc.constantFrom<CatchUp>("none", "latest", "all");

const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant("advance" as const),
      ms: fc.integer({ min: 0, max: 3 * 3_600_000 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("step" as const),
      ms: fc.integer({ min: -2 * 3_600_000, max: 2 * 3_600_000 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("restart" as const),
      gapMs: fc.integer({ min: 0, max: 5 * 3_600_000 }),
      stepMs: fc.integer({ min: -3_600_000, max: 3_600_000 }),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: "takeover" as const }) },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant("set" as const), timing, catchUp: catchUps }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: "unschedule" as const }) },
);

/** The definition `Queue.schedule("p", …)` writes at wall time `setAt`. */
function definitionOf(when: Timing, catchUp: CatchUp, setAt: number): ScheduleDefinition {
  return {
    name: "p",
    cron: when.cron,
    everyMs: when.everyMs,
    timezone: when.timezone ?? "UTC",
    queue: "jobs",
    payload: new Uint8Array(0),
    options: undefined,
    startAt: undefined,
    endAt: undefined,
    catchUp,
    setAt,
  };
}

/**
 * The model: fire every due time while owned, `catchUp` at each open. The
 * cursor (the last time accounted for) outlives a removal: a schedule set
 * again under the name starts after it, or after its own set time if later.
 */
class Model {
  readonly fired: number[] = [];
  /** The current definition, `null` while removed. */
  s: ScheduleDefinition | null;
  #cursor: number;
  constructor(s: ScheduleDefinition) {
    this.s = s;
    this.#cursor = s.setAt;
  }
  /** Everything due at wall time `now` while owned. */
  owned(now: number): void {
    const s = this.s;
    if (s === null) return;
    for (let t = nextFireAfter(s, this.#cursor); t !== null && t <= now; t = nextFireAfter(s, t)) {
      this.fired.push(t);
      this.#cursor = t;
    }
  }
  /** A process opens the store at wall time `now`. */
  opened(now: number): void {
    const s = this.s;
    if (s === null) return;
    if (s.catchUp !== "all") {
      const last = lastFireUpTo(s, this.#cursor, now);
      if (last !== null) {
        if (s.catchUp === "latest") this.fired.push(last);
        this.#cursor = last;
      }
    }
    this.owned(now);
  }
  /** `schedule("p", …)` at wall time `now`: a replacement first fires what the old one owes. */
  set(s: ScheduleDefinition, now: number): void {
    this.owned(now);
    this.s = s;
    this.#cursor = Math.max(this.#cursor, now);
  }
  unschedule(): void {
    this.s = null;
  }
}

describe("schedules: property", { timeout: 240_000 }, () => {
  it("fires are never duplicated and none is missed while owned", async () => {
    await fc.assert(
      fc.asyncProperty(
        timing,
        catchUps,
        fc.date({
          min: new Date("2026-01-01T00:00:00Z"),
          max: new Date("2030-12-31T00:00:00Z"),
          noInvalidDate: true,
        }),
        fc.array(op, { minLength: 1, maxLength: 14 }),
        async (when, catchUp, start, ops) => {
          const store = new MemoryStore();
          const clock = clockAt(start.toISOString());
          let queue: Queue = await open(store, clock, { schedulerIntervalMs: INTERVAL });
          const older: Queue[] = [];
          // Fire times of jobs claimed and acked along the way: an acked job frees its dedup key,
          // so a second fire of the same time would be enqueued again and show up here.
          const acked: number[] = [];
          const drain = async (q: Queue): Promise<void> => {
            for (;;) {
              const page = await q.listJobs("jobs", "pending", { limit: 1000 });
              if (page.jobs.length === 0) return;
              for (const job of page.jobs) acked.push(Number(/:(\d+)$/.exec(job.dedupKey!)![1]));
              const claims = await q.claimBatch("jobs", page.jobs.length);
              assert.equal(claims.length, page.jobs.length, "every pending fire is claimable");
              for (const claim of claims) await q.ack(claim);
            }
          };
          await queue.schedule("p", { ...when, queue: "jobs", payload: "", catchUp });
          const [info] = await queue.listSchedules();
          const model = new Model(definitionOf(when, catchUp, info!.firedUpTo));
          for (const o of ops) {
            switch (o.kind) {
              case "advance":
                clock.advance(o.ms + INTERVAL);
                break;
              case "step":
                clock.stepWall(o.ms);
                clock.advance(INTERVAL);
                break;
              case "restart":
                await settle(queue);
                await queue.close();
                clock.advance(o.gapMs);
                clock.stepWall(o.stepMs);
                queue = await open(store, clock, { schedulerIntervalMs: INTERVAL });
                model.opened(clock.now());
                break;
              case "takeover":
                await settle(queue);
                older.push(queue);
                queue = await open(store, clock, { schedulerIntervalMs: INTERVAL });
                model.opened(clock.now());
                break;
              case "set":
                await queue.schedule("p", {
                  ...o.timing,
                  queue: "jobs",
                  payload: "",
                  catchUp: o.catchUp,
                });
                model.set(definitionOf(o.timing, o.catchUp, clock.now()), clock.now());
                break;
              case "unschedule":
                assert.equal(await queue.unschedule("p"), model.s !== null);
                model.unschedule();
                break;
            }
            if (o.kind === "advance" || o.kind === "step") model.owned(clock.now());
            await settle(queue);
            await drain(queue);
          }
          await queue.close();
          for (const q of older) await q.close().catch(() => undefined);
          const reader = await QueueReader.open(store, "q");
          const durable: number[] = [...acked];
          let cursor: string | undefined;
          do {
            const page = reader.listJobs("jobs", "pending", {
              limit: 1000,
              ...(cursor === undefined ? {} : { cursor }),
            });
            for (const job of page.jobs) durable.push(Number(/:(\d+)$/.exec(job.dedupKey!)![1]));
            cursor = page.nextCursor;
          } while (cursor !== undefined);
          durable.sort((a, b) => a - b);
          assert.equal(new Set(durable).size, durable.length, "a fire time was enqueued twice");
          assert.deepEqual(durable, model.fired);
        },
      ),
      { numRuns: 60 },
    );
  });
});
