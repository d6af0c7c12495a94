import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { openLog, type ReadLogOptions } from "../../../src/log/index.js";
import { silentLogger } from "../../../src/logger.js";
import { apply } from "../../../src/queue/apply.js";
import type { Queue } from "../../../src/queue/queue.js";
import { QueueReader } from "../../../src/queue/reader.js";
import { encodeRecord } from "../../../src/queue/records/codec.js";
import { Tag } from "../../../src/queue/records/tags.js";
import { COMMON_PROBE_YEARS, LEAP_PROBE_YEARS } from "../../../src/queue/schedules/timing.js";
import {
  listScheduleInfos,
  listScheduleInfosNow,
  SchedulePlanning,
} from "../../../src/queue/schedules/views.js";
import { State } from "../../../src/queue/state.js";
import { MemoryStore } from "../../../src/store/memory.js";
import type { ListOptions, ListPage, ObjectInfo, StoredObject } from "../../../src/store/types.js";
import { SLICE_CLOCK, SliceBudget } from "../../../src/util/slices.js";
import { testOptions } from "../../log/helpers.js";
import { turnsDuring } from "../../turns.js";
import { cronSearchesDuring } from "./cron-spy.js";
import { clockAt, definition, open } from "./helpers.js";

/** A state holding `names` as every-minute schedules, set in the given order. */
function stateWith(names: readonly string[]): State {
  const state = new State();
  for (const name of names)
    apply(state, {
      tag: Tag.ScheduleSet,
      schedule: {
        name,
        cron: undefined,
        everyMs: 60_000,
        timezone: "UTC",
        queue: "x",
        payload: Buffer.from(name),
        options: undefined,
        startAt: undefined,
        endAt: undefined,
        catchUp: "latest",
        setAt: 1_700_000_000_000,
      },
    });
  return state;
}

describe("listing schedules", () => {
  it("gives the event loop turns while working out next fire times, so thousands of schedules never stall the queue", async () => {
    const names = Array.from({ length: 40 }, (_, i) => `s${String(i).padStart(2, "0")}`);
    const state = stateWith([...names].reverse());
    let computed = 0;
    let computedAtFirstTurn: number | undefined;
    setImmediate(() => {
      computedAtFirstTurn = computed;
    });
    const listed = await listScheduleInfos(state, (s) => {
      // Each next fire time costs 1 ms (a zoned cron costs the parser about that on a slow core).
      const until = performance.now() + 1;
      while (performance.now() < until);
      computed++;
      return s.firedUpTo + 60_000;
    });
    assert.deepEqual(
      listed.map((s) => s.name),
      names,
    );
    assert.ok(
      computedAtFirstTurn !== undefined && computedAtFirstTurn < names.length,
      `the loop had a turn after ${computedAtFirstTurn} of ${names.length} schedules`,
    );
    // A reader lists the same, at once.
    assert.deepEqual(
      listScheduleInfosNow(state).map((s) => [s.name, s.nextRunAt]),
      listed.map((s) => [s.name, 1_700_000_060_000]),
    );
  });

  it("over a live queue lists every schedule by name with its next run", async () => {
    const clock = clockAt("2026-03-01T00:00:00Z");
    const queue = await open(new MemoryStore(), clock);
    try {
      for (const name of ["c", "a", "b"])
        await queue.schedule(name, { queue: "x", payload: name, everyMs: 60_000 });
      const listed = await queue.listSchedules();
      assert.deepEqual(
        listed.map((s) => [s.name, s.nextRunAt]),
        ["a", "b", "c"].map((name) => [name, clock.now() + 60_000]),
      );
    } finally {
      await queue?.close();
    }
  });
});

/**
 * A store whose log holds a schedule in a time zone this runtime does not
 * know (as a store written by a host with newer time-zone data would), between
 * two it knows. `Queue.schedule` refuses such a zone, so the records are
 * written to the log directly.
 */
async function storeWithUnknownZone(): Promise<MemoryStore> {
  const store = new MemoryStore();
  const { log } = await openLog(store, "q", testOptions());
  await log.append(
    ["a-paris", "b-mars", "c-utc"].map((name) =>
      encodeRecord({
        tag: Tag.ScheduleSet,
        schedule: definition(
          name,
          name === "b-mars" ? "Mars/Olympus_Mons" : name === "a-paris" ? "Europe/Paris" : "UTC",
        ),
      }),
    ),
  );
  await log.close();
  return store;
}

/** A store holding `n` daily crons at 03:00 in four zones (one UTC). */
async function storeWithZonedCrons(n: number, store = new MemoryStore()): Promise<MemoryStore> {
  const { log } = await openLog(store, "q", testOptions());
  const zones = ["Europe/Paris", "America/New_York", "Asia/Tokyo", "UTC"];
  await log.append(
    Array.from({ length: n }, (_, i) =>
      encodeRecord({
        tag: Tag.ScheduleSet,
        schedule: definition(`s${String(i).padStart(2, "0")}`, zones[i % 4]!, `${i % 60} 3 * * *`),
      }),
    ),
  );
  await log.close();
  return store;
}

/** A memory store whose reads fail while `down`. */
class DownStore extends MemoryStore {
  down = false;
  #check(): void {
    if (this.down) throw new Error("store down");
  }
  override async get(key: string): Promise<StoredObject | null> {
    this.#check();
    return super.get(key);
  }
  override async head(key: string): Promise<ObjectInfo | null> {
    this.#check();
    return super.head(key);
  }
  override async list(prefix: string, options?: ListOptions): Promise<ListPage> {
    this.#check();
    return super.list(prefix, options);
  }
}

/** Resolves once `reader`'s background planning is done (the dashboard's hook). */
async function schedulesPlanned(reader: QueueReader): Promise<void> {
  const hooks = reader as unknown as Record<symbol, (() => Promise<void>) | undefined>;
  const planned = hooks[Symbol.for("taquba.schedulesPlanned")];
  assert.ok(planned !== undefined, "the reader has the hook");
  await planned.call(reader);
}

describe("schedule listing", { timeout: 30_000 }, () => {
  it("a reader lists a schedule whose time zone it does not know with its error, and the others as usual", async () => {
    const reader = await QueueReader.open(await storeWithUnknownZone(), "q");
    const infos = reader.listSchedules();
    assert.deepEqual(
      infos.map((s) => s.name),
      ["a-paris", "b-mars", "c-utc"],
    );
    const [paris, mars, utc] = infos;
    assert.equal(paris!.nextRunAt, Date.parse("2026-01-01T02:00:00Z"));
    assert.equal(paris!.error, undefined);
    assert.equal(utc!.nextRunAt, Date.parse("2026-01-01T03:00:00Z"));
    assert.equal(utc!.error, undefined);
    assert.equal(mars!.nextRunAt, null);
    assert.match(mars!.error ?? "", /Mars\/Olympus_Mons|time ?zone/i);
    assert.equal(mars!.timezone, "Mars/Olympus_Mons");
  });

  it("a queue lists a stored schedule it cannot plan with its error, as a reader does", async () => {
    const clock = clockAt("2026-01-01T00:00:00Z");
    const queue = await open(await storeWithUnknownZone(), clock);
    try {
      const infos = await queue.listSchedules();
      assert.deepEqual(
        infos.map((s) => [s.name, s.nextRunAt, s.error === undefined]),
        [
          ["a-paris", Date.parse("2026-01-01T02:00:00Z"), true],
          ["b-mars", null, false],
          ["c-utc", Date.parse("2026-01-01T03:00:00Z"), true],
        ],
      );
      assert.match(infos[1]!.error ?? "", /Mars\/Olympus_Mons|time ?zone/i);
    } finally {
      await queue.close();
    }
  });

  it("a reader's open works out every schedule's next fire time, parsing each expression once per zone and year: its listing asks croner nothing", async () => {
    // A cron shared by many schedules is parsed once; the open does it, in slices, so the
    // synchronous listing only builds the list.
    const store = new MemoryStore();
    const { log } = await openLog(store, "q", testOptions());
    const zones = ["Europe/Paris", "America/New_York", "Asia/Tokyo", "UTC"];
    await log.append(
      Array.from({ length: 40 }, (_, i) =>
        encodeRecord({
          tag: Tag.ScheduleSet,
          schedule: definition(`s${String(i).padStart(2, "0")}`, zones[i % 4]!, "0 3 * * *"),
        }),
      ),
    );
    await log.close();
    const opened = await cronSearchesDuring(() => QueueReader.open(store, "q"));
    const probes = opened.searches.filter((pattern) => pattern.endsWith(` ${COMMON_PROBE_YEARS}`));
    assert.equal(probes.length, 4, "one probe per (cron, zone) pair");
    const reader = opened.result;
    const { result, searches } = await cronSearchesDuring(() => reader.listSchedules());
    assert.deepEqual(searches, []);
    assert.equal(result.length, 40);
    assert.ok(result.every((s) => s.error === undefined && s.nextRunAt !== null));
    // A reopen lists from the same plans, and lists what a fresh reader lists.
    const reopened = await cronSearchesDuring(() => reader.reopen());
    assert.deepEqual(reopened.searches, []);
    const relisted = await cronSearchesDuring(() => reopened.result.listSchedules());
    assert.deepEqual(relisted.searches, []);
    assert.deepEqual(relisted.result, result);
    assert.deepEqual((await QueueReader.open(store, "q")).listSchedules(), result);
  });

  it("a reader's schedules, once planned, are listed without asking croner, also after a reopen", async () => {
    const store = await storeWithZonedCrons(40);
    const reader = await QueueReader.open(store, "q");
    await schedulesPlanned(reader);
    const { result, searches } = await cronSearchesDuring(() => reader.listSchedules());
    assert.deepEqual(searches, []);
    assert.deepEqual(result, (await QueueReader.open(store, "q")).listSchedules());
    // A reopen plans only the schedule objects it did not take on (here: none).
    const again = await reader.reopen();
    const relisted = await cronSearchesDuring(async () => {
      await schedulesPlanned(again);
      return again.listSchedules();
    });
    assert.deepEqual(relisted.searches, []);
    assert.deepEqual(relisted.result, result);
  });

  it("a reader's background planning holds no process open", async () => {
    const store = await storeWithZonedCrons(40);
    const timeouts = (): number =>
      process.getActiveResourcesInfo().filter((kind) => kind === "Timeout").length;
    const before = timeouts();
    const reader = await QueueReader.open(store, "q");
    // Planning's first turn is pending from the open on, through a timer that keeps no process alive.
    assert.equal(timeouts(), before, "planning's pending timer is unref'd");
    await schedulesPlanned(reader);
    const { searches } = await cronSearchesDuring(() => reader.listSchedules());
    assert.deepEqual(searches, []);
  });

  it("a reopen that fails leaves the reader it was called on planning its schedules", async () => {
    const store = new DownStore();
    await storeWithZonedCrons(40, store);
    const reader = await QueueReader.open(store, "q", { logger: silentLogger });
    store.down = true;
    await assert.rejects(reader.reopen(), /store down/);
    store.down = false;
    await schedulesPlanned(reader);
    const { searches } = await cronSearchesDuring(() => reader.listSchedules());
    assert.deepEqual(searches, []);
  });

  it("a reader opens, plans and reopens on a slice clock that has spent each slice by its next reading", async () => {
    // Its open's WAL fetch only ever yielded on such a clock. Here the clock stops moving
    // after a while, so an open that makes no progress ends rather than spins.
    const store = new MemoryStore();
    const { log } = await openLog(store, "q", testOptions());
    const schedules = (cron: string): Uint8Array[] =>
      Array.from({ length: 40 }, (_, i) =>
        encodeRecord({ tag: Tag.ScheduleSet, schedule: definition(`s${i}`, "Europe/Paris", cron) }),
      );
    await log.append(schedules("0 3 * * *"));
    let readings = 0;
    const options = {
      [SLICE_CLOCK]: () => (++readings <= 50_000 ? readings * 10 : 500_000),
    } as ReadLogOptions;
    const reader = await QueueReader.open(store, "q", options);
    await schedulesPlanned(reader);
    await log.append(schedules("0 4 * * *"));
    const again = await reader.reopen();
    await schedulesPlanned(again);
    const listed = again.listSchedules();
    assert.equal(listed.length, 40);
    assert.equal(listed[0]!.cron, "0 4 * * *");
    assert.ok(readings < 2_000, `the slice clock was read ${readings} times`);
    await log.close();
  });

  it("a reopen from a reader of an empty log plans the schedules it finds", async () => {
    const store = new MemoryStore();
    const empty = await QueueReader.open(store, "q");
    await storeWithZonedCrons(40, store);
    const reader = await empty.reopen();
    await schedulesPlanned(reader);
    const { result, searches } = await cronSearchesDuring(() => reader.listSchedules());
    assert.equal(result.length, 40);
    assert.deepEqual(searches, []);
  });

  it("background planning stopped while it sorts ends within a turn, keeping no order", async () => {
    const names = Array.from(
      { length: 20_000 },
      (_, i) => `s${String((i * 7_919) % 20_000).padStart(5, "0")}`,
    );
    const state = stateWith(names);
    // A slice that is always spent: the sort yields after each step.
    const planning = new SchedulePlanning(state, new SliceBudget(0));
    for (let i = 0; i < 3; i++) await new Promise((resolve) => setTimeout(resolve, 0));
    assert.deepEqual(state.scheduleOrder, [], "still sorting");
    planning.stop();
    const { turns } = await turnsDuring(() => planning.done());
    assert.ok(turns <= 3, `planning ended ${turns} turns after it was stopped`);
    assert.deepEqual(state.scheduleOrder, []);
  });

  it("background planning that fails leaves no unhandled rejection", async () => {
    const unhandled: unknown[] = [];
    const record = (reason: unknown): void => {
      unhandled.push(reason);
    };
    process.on("unhandledRejection", record);
    try {
      const broken = {
        get schedules(): never {
          throw new Error("broken state");
        },
      } as unknown as State;
      const planning = new SchedulePlanning(broken, new SliceBudget(5, () => 0));
      await new Promise((resolve) => setTimeout(resolve, 20));
      planning.stop();
    } finally {
      process.off("unhandledRejection", record);
    }
    assert.deepEqual(unhandled, []);
  });

  it("a queue and a reader list a stored cron no date matches with that error, without croner's open search", async () => {
    // Stored by a version that accepted it (`schedule()` refuses it now): the search for
    // its next fire would walk every day up to the year 3000, at open and at each listing.
    const store = new MemoryStore();
    const { log } = await openLog(store, "q", testOptions());
    await log.append([
      encodeRecord({
        tag: Tag.ScheduleSet,
        schedule: definition("never", "Europe/Berlin", "0 0 8-14 * +1#1"),
      }),
      encodeRecord({ tag: Tag.ScheduleSet, schedule: definition("ok", "UTC") }),
    ]);
    await log.close();
    const expected = [
      ["never", null, "no date matches it"],
      ["ok", Date.parse("2026-01-01T03:00:00Z"), undefined],
    ];
    const reader = await QueueReader.open(store, "q");
    const clock = clockAt("2026-01-01T00:00:00Z");
    let queue: Queue | undefined;
    try {
      // The queue's open plans it too (and catches it up).
      const { result, searches } = await cronSearchesDuring(async () => {
        queue = await open(store, clock);
        return [reader.listSchedules(), await queue.listSchedules()];
      });
      for (const listed of result)
        assert.deepEqual(
          listed.map((s) => [s.name, s.nextRunAt, s.error]),
          expected,
        );
      // Only the searches limited to the years that hold every calendar, never an open one.
      const ofNever = searches.filter((pattern) => pattern.includes("8-14"));
      assert.ok(ofNever.length > 0);
      assert.deepEqual(
        ofNever.filter(
          (pattern) =>
            !pattern.endsWith(` ${COMMON_PROBE_YEARS}`) &&
            !pattern.endsWith(` ${LEAP_PROBE_YEARS}`),
        ),
        [],
      );
    } finally {
      await queue?.close();
    }
  });

  it("a reader lists a stored cron that never fires in its zone with that error, as a queue does, without croner's open search", async () => {
    // A reader over a store written by an older version (`schedule()` refuses it now):
    // its listing must not walk every skipped second to the year 3000 either.
    const never = "15,45 2 31 3 +0";
    const store = new MemoryStore();
    const { log } = await openLog(store, "q", testOptions());
    await log.append([
      encodeRecord({
        tag: Tag.ScheduleSet,
        schedule: definition("never", "Europe/Berlin", never),
      }),
      encodeRecord({ tag: Tag.ScheduleSet, schedule: definition("ok", "Europe/Berlin") }),
    ]);
    await log.close();
    const reader = await QueueReader.open(store, "q");
    const { result, searches } = await cronSearchesDuring(() => reader.listSchedules());
    assert.deepEqual(
      result.map((s) => [s.name, s.nextRunAt, s.error]),
      [
        [
          "never",
          null,
          'it never fires in "Europe/Berlin": every time it matches falls in a daylight-saving gap, which skips it',
        ],
        ["ok", Date.parse("2026-01-01T02:00:00Z"), undefined],
      ],
    );
    assert.deepEqual(
      searches.filter((pattern) => pattern === never),
      [],
    );
    // Listed again (a dashboard's refresh), the same schedules cost no search at all.
    const again = await cronSearchesDuring(() => reader.listSchedules());
    assert.deepEqual(again.result, result);
    assert.deepEqual(again.searches, []);
  });

  it("a queue lists a stored cron that never fires in its zone with that error, without croner's open search", async () => {
    // Stored by a version that accepted it (`schedule()` refuses it now): every time it
    // matches falls in Berlin's daylight-saving gap, and the search for its next fire
    // would walk to the year 3000 at open and at each plan.
    const never = "15,45 2 31 3 +0";
    const store = new MemoryStore();
    const { log } = await openLog(store, "q", testOptions());
    await log.append([
      encodeRecord({
        tag: Tag.ScheduleSet,
        schedule: definition("never", "Europe/Berlin", never),
      }),
      encodeRecord({ tag: Tag.ScheduleSet, schedule: definition("ok", "Europe/Berlin") }),
    ]);
    await log.close();
    const clock = clockAt("2026-01-01T00:00:00Z");
    let queue: Queue | undefined;
    try {
      const { result, searches } = await cronSearchesDuring(async () => {
        queue = await open(store, clock);
        return queue.listSchedules();
      });
      assert.deepEqual(
        result.map((s) => [s.name, s.nextRunAt, s.error]),
        [
          [
            "never",
            null,
            'it never fires in "Europe/Berlin": every time it matches falls in a daylight-saving gap, which skips it',
          ],
          ["ok", Date.parse("2026-01-01T02:00:00Z"), undefined],
        ],
      );
      // Its own expression is never searched: only the bounded probes.
      assert.deepEqual(
        searches.filter((pattern) => pattern === never),
        [],
      );
    } finally {
      await queue?.close();
    }
  });
});
