import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ClosedError, InvalidArgumentError } from "../../../src/errors.js";
import { QueueReader } from "../../../src/queue/reader.js";
import { FIRES_PER_TURN } from "../../../src/queue/schedules/runner.js";
import { COMMON_PROBE_YEARS, LEAP_PROBE_YEARS } from "../../../src/queue/schedules/timing.js";
import { MemoryStore } from "../../../src/store/memory.js";
import { liveState } from "../../reliability/lib/audit.js";
import { mustClaim } from "../helpers.js";
import { cronSearchesDuring } from "./cron-spy.js";
import { assertNextRuns, clockAt, firesOf, frozenSlices, isos, open, settle } from "./helpers.js";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

describe("schedules", { timeout: 60_000 }, () => {
  it("everyMs fires one job per fire time, on time, and lists its next fire", async () => {
    const store = new MemoryStore();
    const clock = clockAt("2027-01-01T00:00:00Z");
    const t0 = clock.now();
    const queue = await open(store, clock);
    await queue.schedule("tick", { everyMs: 10 * MINUTE, queue: "jobs", payload: "p" });
    let [info] = await queue.listSchedules();
    assert.equal(info!.name, "tick");
    assert.equal(info!.everyMs, 10 * MINUTE);
    assert.equal(info!.timezone, "UTC");
    assert.equal(info!.catchUp, "latest");
    assert.equal(info!.nextRunAt, t0 + 10 * MINUTE);
    clock.advance(10 * MINUTE - 1);
    await settle(queue);
    assert.deepEqual(await firesOf(queue, "jobs", "tick"), []);
    clock.advance(1);
    await settle(queue);
    assert.deepEqual(await firesOf(queue, "jobs", "tick"), [t0 + 10 * MINUTE]);
    clock.advance(35 * MINUTE);
    await settle(queue);
    assert.deepEqual(
      await firesOf(queue, "jobs", "tick"),
      [1, 2, 3, 4].map((k) => t0 + k * 10 * MINUTE),
    );
    const job = await queue.claim("jobs");
    assert.equal(Buffer.from(job!.payload).toString(), "p");
    [info] = await queue.listSchedules();
    assert.equal(info!.nextRunAt, t0 + 50 * MINUTE);
    await queue.close();
  });

  it("refuses bad specs with InvalidArgumentError naming the field, storing nothing", async () => {
    const store = new MemoryStore();
    const clock = clockAt("2027-01-01T00:00:00Z");
    const queue = await open(store, clock);
    const base = { queue: "jobs", payload: "p" };
    const cases: [unknown, RegExp][] = [
      [{ ...base, cron: "61 * * * *" }, /`spec\.cron`/],
      [{ ...base, cron: "not a cron" }, /`spec\.cron`/],
      // No date matches these (February has no 30th, April no 31st): they would never fire.
      [
        { ...base, cron: "0 0 30 2 *" },
        /^Expected `spec\.cron` to be .*, got "0 0 30 2 \*" \(no date matches it\)$/,
      ],
      [
        { ...base, cron: "0 0 0 31 4 *", timezone: "Europe/Paris" },
        /`spec\.cron`.*no date matches it/,
      ],
      [{ ...base, cron: "* * * * *", timezone: "Mars/Olympus_Mons" }, /`spec\.timezone`/],
      [{ ...base, cron: "* * * * *", everyMs: 1000 }, /`spec\.everyMs`/],
      [{ ...base }, /`spec\.cron`.*neither/],
      [{ ...base, everyMs: 0 }, /`spec\.everyMs`/],
      [{ ...base, everyMs: 1000, startAt: 2000, endAt: 2000 }, /`spec\.endAt`/],
      [{ ...base, everyMs: 1000, startAt: 3000, endAt: 2000 }, /`spec\.endAt`/],
      [{ ...base, everyMs: 1000, catchUp: "some" }, /`spec\.catchUp`/],
      [{ ...base, everyMs: 1000, queue: "" }, /`spec\.queue`/],
      [{ ...base, everyMs: 1000, options: { runAt: 5 } }, /`spec\.options\.runAt`/],
      [{ ...base, everyMs: 1000, options: { jobId: "x" } }, /`spec\.options\.jobId`/],
      [{ ...base, everyMs: 1000, options: { priority: -1 } }, /`spec\.options\.priority`/],
      [{ ...base, everyMs: 1000, payload: 5 }, /`spec\.payload`/],
    ];
    await queue.flush();
    const before = queue.logStats().recordsWritten;
    for (const [spec, message] of cases) {
      await assert.rejects(
        queue.schedule("s", spec as never),
        (error: unknown) => error instanceof InvalidArgumentError && message.test(error.message),
        JSON.stringify(spec),
      );
    }
    await assert.rejects(queue.schedule("", { ...base, everyMs: 1000 }), /`name`/);
    assert.deepEqual(await queue.listSchedules(), []);
    await queue.flush();
    assert.equal(queue.logStats().recordsWritten, before);
    assert.equal(await queue.unschedule("s"), false);
    await queue.close();
  });

  it("refuses a cron no date matches after searching only the years that hold every calendar", async () => {
    // An open search for such an expression walks every day up to the year 3000 (tens of
    // ms of a blocked event loop per search; the day-of-week AND and nth-weekday forms
    // cost the most). The refusal searches the common years, then February of the leap
    // years when the expression allows February, and nothing else.
    const queue = await open(new MemoryStore(), clockAt("2027-01-01T00:00:00Z"));
    const common = ` ${COMMON_PROBE_YEARS}`;
    const leap = ` ${LEAP_PROBE_YEARS}`;
    for (const [cron, timezone, searched] of [
      ["0 0 1 * +1#2", "UTC", [`0 0 0 1 * +1#2${common}`, `0 0 0 1 2 +1#2${leap}`]],
      [
        "0 0 8-14 * +1#1",
        "Europe/Berlin",
        [`0 0 0 8-14 * +1#1${common}`, `0 0 0 8-14 2 +1#1${leap}`],
      ],
      ["0 0 31 4,6,9,11 +1", "Europe/Berlin", [`0 0 0 31 4,6,9,11 +1${common}`]],
      ["0 0 0 30 2 *", "America/New_York", [`0 0 0 30 2 *${common}`, `0 0 0 30 2 *${leap}`]],
    ] as const) {
      const { searches } = await cronSearchesDuring(() =>
        assert.rejects(
          queue.schedule("x", { cron, timezone, queue: "jobs", payload: "" }),
          /`spec\.cron`.*\(no date matches it\)$/,
        ),
      );
      assert.deepEqual(searches, searched, cron);
    }
    assert.deepEqual(await queue.listSchedules(), []);
    await queue.close();
  });

  it("accepts rare crons some date matches, and plans their far next fire", async () => {
    const queue = await open(new MemoryStore(), clockAt("2027-01-01T00:00:00Z"));
    const cases = [
      // 29 February that is a Monday (AND), then the fifth Monday of February.
      ["feb29-monday", "0 0 29 2 +1", "UTC", "2044-02-29T00:00:00.000Z"],
      ["feb29-monday-berlin", "0 0 29 2 +1", "Europe/Berlin", "2044-02-28T23:00:00.000Z"],
      ["fifth-monday", "0 0 * 2 1#5", "America/New_York", "2044-02-29T05:00:00.000Z"],
      // Without "+", day of month OR day of week: any Monday of February too.
      ["feb29-or-monday", "0 0 29 2 1", "UTC", "2027-02-01T00:00:00.000Z"],
      ["last-weekday-feb", "0 0 LW 2 *", "UTC", "2027-02-26T00:00:00.000Z"],
      ["yearly", "@yearly", "Europe/Paris", "2027-12-31T23:00:00.000Z"],
    ] as const;
    await assertNextRuns(queue, cases);
    await queue.close();
  });

  it("cron: month ends and the leap day", async () => {
    const clock = clockAt("2027-01-01T00:00:00Z");
    const queue = await open(new MemoryStore(), clock);
    await queue.schedule("31st", { cron: "0 0 31 * *", queue: "jobs", payload: "" });
    await queue.schedule("last", { cron: "0 12 L * *", queue: "jobs", payload: "" });
    await queue.schedule("leap", { cron: "0 0 29 2 *", queue: "jobs", payload: "" });
    for (let day = 0; day < 800; day++) clock.advance(DAY);
    await settle(queue);
    const thirtyFirsts = isos(await firesOf(queue, "jobs", "31st"));
    // Seven months of 31 days a year, from January 2027 to early March 2029.
    assert.equal(thirtyFirsts.length, 15, thirtyFirsts.join());
    assert.ok(thirtyFirsts.every((t) => t.slice(8, 10) === "31"));
    assert.deepEqual(isos(await firesOf(queue, "jobs", "last")).slice(0, 4), [
      "2027-01-31T12:00:00.000Z",
      "2027-02-28T12:00:00.000Z",
      "2027-03-31T12:00:00.000Z",
      "2027-04-30T12:00:00.000Z",
    ]);
    assert.ok(isos(await firesOf(queue, "jobs", "last")).includes("2028-02-29T12:00:00.000Z"));
    assert.deepEqual(isos(await firesOf(queue, "jobs", "leap")), ["2028-02-29T00:00:00.000Z"]);
    await queue.close();
  });

  it("cron: daylight-saving changes in America/New_York follow croner's rules", async () => {
    const clock = clockAt("2027-03-13T00:00:00Z");
    const queue = await open(new MemoryStore(), clock);
    const tz = "America/New_York";
    // Spring forward on 2027-03-14: 02:30 does not exist and runs at 03:00 EDT.
    await queue.schedule("spring", {
      cron: "30 2 * * *",
      timezone: tz,
      queue: "jobs",
      payload: "",
    });
    for (let h = 0; h < 72; h++) clock.advance(HOUR);
    await settle(queue);
    assert.deepEqual(isos(await firesOf(queue, "jobs", "spring")), [
      "2027-03-13T07:30:00.000Z",
      "2027-03-14T07:00:00.000Z",
      "2027-03-15T06:30:00.000Z",
    ]);
    await queue.close();

    const fall = clockAt("2027-11-06T00:00:00Z");
    const q2 = await open(new MemoryStore(), fall);
    // Fall back on 2027-11-07: 01:30 happens twice; a fixed time runs once, an interval on both.
    await q2.schedule("fixed", { cron: "30 1 * * *", timezone: tz, queue: "jobs", payload: "" });
    await q2.schedule("every30", {
      cron: "*/30 1 * * *",
      timezone: tz,
      queue: "jobs",
      payload: "",
      startAt: Date.parse("2027-11-07T00:00:00Z"),
      endAt: Date.parse("2027-11-07T12:00:00Z"),
    });
    for (let h = 0; h < 72; h++) fall.advance(HOUR);
    await settle(q2);
    assert.deepEqual(isos(await firesOf(q2, "jobs", "fixed")), [
      "2027-11-06T05:30:00.000Z",
      "2027-11-07T05:30:00.000Z",
      "2027-11-08T06:30:00.000Z",
    ]);
    assert.deepEqual(isos(await firesOf(q2, "jobs", "every30")), [
      "2027-11-07T05:00:00.000Z",
      "2027-11-07T05:30:00.000Z",
      "2027-11-07T06:00:00.000Z",
      "2027-11-07T06:30:00.000Z",
    ]);
    const [, info] = await q2.listSchedules();
    assert.equal(info!.name, "fixed");
    await q2.close();
  });

  it("a wall-clock step back never fires a time twice; a step forward fires what became due", async () => {
    const clock = clockAt("2027-01-01T00:00:00Z");
    const t0 = clock.now();
    const queue = await open(new MemoryStore(), clock, { schedulerIntervalMs: 1_000 });
    await queue.schedule("m", { cron: "* * * * *", queue: "jobs", payload: "" });
    clock.advance(MINUTE);
    await settle(queue);
    assert.deepEqual(await firesOf(queue, "jobs", "m"), [t0 + MINUTE]);
    // Back 30 minutes: the fire at +1 min stays the last, no time fires again.
    clock.stepWall(-30 * MINUTE);
    for (let i = 0; i < 31; i++) clock.advance(MINUTE);
    await settle(queue);
    assert.deepEqual(await firesOf(queue, "jobs", "m"), [t0 + MINUTE, t0 + 2 * MINUTE]);
    // Forward 10 minutes: the ten fire times jumped over fire within one scheduler interval.
    clock.stepWall(10 * MINUTE);
    clock.advance(1_000);
    await settle(queue);
    const fires = await firesOf(queue, "jobs", "m");
    assert.deepEqual(
      fires,
      Array.from({ length: 12 }, (_, k) => t0 + (k + 1) * MINUTE),
    );
    assert.equal(new Set(fires).size, fires.length);
    await queue.close();
  });

  it("advance(negative) sets the clock back: no fire time twice, and fires resume in order", async () => {
    const clock = clockAt("2027-01-01T00:00:00Z");
    const t0 = clock.now();
    const queue = await open(new MemoryStore(), clock, { schedulerIntervalMs: 1_000 });
    await queue.schedule("m", { cron: "* * * * *", queue: "jobs", payload: "" });
    await queue.schedule("e", { everyMs: 90_000, queue: "jobs", payload: "" });
    clock.advance(3 * MINUTE);
    await settle(queue);
    assert.deepEqual(
      await firesOf(queue, "jobs", "m"),
      [1, 2, 3].map((k) => t0 + k * MINUTE),
    );
    assert.deepEqual(await firesOf(queue, "jobs", "e"), [t0 + 90_000, t0 + 180_000]);
    // Back 10 minutes, then forward step by step past where the clock was.
    clock.advance(-10 * MINUTE);
    for (let i = 0; i < 12; i++) {
      clock.advance(MINUTE);
      await settle(queue);
    }
    const minute = await firesOf(queue, "jobs", "m");
    assert.deepEqual(
      minute,
      [1, 2, 3, 4, 5].map((k) => t0 + k * MINUTE),
    );
    const every = await firesOf(queue, "jobs", "e");
    assert.deepEqual(
      every,
      [90_000, 180_000, 270_000].map((ms) => t0 + ms),
    );
    // In job (id) order, each schedule's fire times still only go up.
    const { jobs } = await queue.listJobs("jobs", "pending", { limit: 100 });
    assert.equal(jobs.length, minute.length + every.length);
    for (const name of ["m", "e"]) {
      const times = jobs
        .map((job) => /^schedule:(\w):(\d+)$/.exec(job.dedupKey ?? ""))
        .filter((match) => match?.[1] === name)
        .map((match) => Number(match![2]));
      assert.deepEqual(
        times,
        [...times].sort((a, b) => a - b),
        name,
      );
    }
    await queue.close();
  });

  for (const catchUp of ["none", "latest", "all"] as const) {
    it(`restart between fires: catchUp "${catchUp}" decides the fires missed while closed`, async () => {
      const store = new MemoryStore();
      const clock = clockAt("2027-01-01T00:00:00Z");
      const t0 = clock.now();
      let queue = await open(store, clock);
      await queue.schedule("h", { everyMs: HOUR, queue: "jobs", payload: "", catchUp });
      clock.advance(HOUR);
      await settle(queue);
      await queue.close();
      // Closed from +1h to +4h30: fires at +2h, +3h, +4h are missed.
      clock.advance(3.5 * HOUR);
      queue = await open(store, clock);
      await settle(queue);
      const missed = { none: [], latest: [4], all: [2, 3, 4] }[catchUp];
      assert.deepEqual(
        await firesOf(queue, "jobs", "h"),
        [1, ...missed].map((k) => t0 + k * HOUR),
      );
      // And from now on every fire while owned.
      clock.advance(HOUR);
      await settle(queue);
      assert.deepEqual(
        await firesOf(queue, "jobs", "h"),
        [1, ...missed, 5].map((k) => t0 + k * HOUR),
      );
      assert.equal((await queue.listSchedules())[0]!.nextRunAt, t0 + 6 * HOUR);
      await queue.close();
    });
  }

  it("takeover between fires: the new owner replays the fires and never repeats one", async () => {
    const store = new MemoryStore();
    const clock = clockAt("2027-01-01T00:00:00Z");
    const t0 = clock.now();
    const a = await open(store, clock);
    await a.schedule("t", { everyMs: MINUTE, queue: "jobs", payload: "", catchUp: "all" });
    for (let i = 0; i < 3; i++) clock.advance(MINUTE);
    await settle(a);
    // B takes the store over without A closing (no final checkpoint: B replays A's records).
    const b = await open(store, clock);
    clock.advance(MINUTE);
    await settle(b);
    assert.deepEqual(
      await firesOf(b, "jobs", "t"),
      [1, 2, 3, 4].map((k) => t0 + k * MINUTE),
    );
    assert.ok(
      a.closed ||
        (await a.flush().then(
          () => false,
          () => true,
        )),
    );
    await b.close();
    await a.close().catch(() => undefined);
    const reader = await QueueReader.open(store, "q");
    const [info] = reader.listSchedules();
    assert.equal(info!.firedUpTo, t0 + 4 * MINUTE);
    assert.equal(info!.nextRunAt, t0 + 5 * MINUTE);
  });

  it("replace keeps the fired times; unschedule stops the fires; both survive a reopen", async () => {
    const store = new MemoryStore();
    const clock = clockAt("2027-01-01T00:00:00Z");
    const t0 = clock.now();
    let queue = await open(store, clock);
    await queue.schedule("r", { everyMs: MINUTE, queue: "jobs", payload: "a" });
    clock.advance(MINUTE);
    await settle(queue);
    // The clock steps back, then the schedule is replaced: no time up to +1 min fires again.
    clock.stepWall(-10 * MINUTE);
    await queue.schedule("r", {
      cron: "* * * * *",
      queue: "jobs",
      payload: "b",
      options: { priority: 5, headers: { k: "v" } },
    });
    for (let i = 0; i < 12; i++) clock.advance(MINUTE);
    await settle(queue);
    const fires = await firesOf(queue, "jobs", "r");
    assert.deepEqual(fires, [t0 + MINUTE, t0 + 2 * MINUTE, t0 + 3 * MINUTE]);
    const jobs = (await queue.listJobs("jobs", "pending")).jobs;
    // The replacement's job comes first: its priority 5 is claimed before the default.
    assert.equal(jobs[0]!.priority, 5);
    assert.deepEqual(jobs[0]!.headers, { k: "v" });
    assert.equal(Buffer.from(jobs[0]!.payload).toString(), "b");
    await queue.close();
    queue = await open(store, clock);
    const [info] = await queue.listSchedules();
    assert.equal(info!.cron, "* * * * *");
    assert.deepEqual(info!.options, { priority: 5, headers: { k: "v" } });
    assert.equal(Buffer.from(info!.payload).toString(), "b");
    assert.equal(await queue.unschedule("r"), true);
    clock.advance(10 * MINUTE);
    await settle(queue);
    assert.equal((await firesOf(queue, "jobs", "r")).length, 3);
    await queue.close();
    queue = await open(store, clock);
    assert.deepEqual(await queue.listSchedules(), []);
    await queue.close();
  });

  it("a schedule stored with an empty dedupKey (refused since) still fires, deduplicated on it", async () => {
    const store = new MemoryStore();
    const clock = clockAt("2027-01-01T00:00:00Z");
    let queue = await open(store, clock);
    await queue.schedule("legacy", { everyMs: MINUTE, queue: "jobs", payload: "p" });
    // As a store written before empty dedup keys were refused holds it (kept by the close's checkpoint).
    const schedules = liveState(queue).schedules;
    schedules.set("legacy", {
      ...schedules.get("legacy")!,
      options: JSON.stringify({ dedupKey: "" }),
    });
    await queue.close();
    queue = await open(store, clock);
    clock.advance(MINUTE);
    await settle(queue);
    const [job] = (await queue.listJobs("jobs", "pending")).jobs;
    assert.equal(job?.dedupKey, "");
    // The next fire finds the key held by the waiting job: it enqueues nothing.
    clock.advance(MINUTE);
    await settle(queue);
    assert.equal((await queue.stats("jobs")).pending, 1);
    assert.equal((await queue.listSchedules())[0]!.nextRunAt, clock.now() + MINUTE);
    // After a fire, the close's checkpoint and a reopen: the next fire still deduplicates on "".
    await queue.close();
    queue = await open(store, clock);
    clock.advance(MINUTE);
    await settle(queue);
    const jobs = (await queue.listJobs("jobs", "pending")).jobs;
    assert.deepEqual(
      jobs.map((j) => [j.id, j.dedupKey]),
      [[job!.id, ""]],
    );
    const [info] = await queue.listSchedules();
    assert.deepEqual(info!.options, { dedupKey: "" });
    assert.equal(info!.nextRunAt, clock.now() + MINUTE);
    // Once the waiting job is done, the key is free: the next fire enqueues again.
    await queue.ack(await mustClaim(queue, "jobs"));
    clock.advance(MINUTE);
    await settle(queue);
    const [next] = (await queue.listJobs("jobs", "pending")).jobs;
    assert.equal(next?.dedupKey, "");
    assert.notEqual(next?.id, job!.id);
    await queue.close();
  });

  it("a replace does not skip a fire that came due before it (the timer had not run yet)", async () => {
    const clock = clockAt("2027-01-01T00:00:00Z");
    const t0 = clock.now();
    const queue = await open(new MemoryStore(), clock);
    await queue.schedule("r", { cron: "* * * * *", queue: "jobs", payload: "old" });
    // +1 min is due (a wall step forward: the timer notices within a scheduler interval).
    clock.stepWall(MINUTE + 1_000);
    await queue.schedule("r", { cron: "* * * * *", queue: "jobs", payload: "new" });
    await settle(queue);
    assert.deepEqual(await firesOf(queue, "jobs", "r"), [t0 + MINUTE]);
    const [job] = (await queue.listJobs("jobs", "pending")).jobs;
    assert.equal(Buffer.from(job!.payload).toString(), "old");
    clock.advance(MINUTE);
    await settle(queue);
    assert.deepEqual(await firesOf(queue, "jobs", "r"), [t0 + MINUTE, t0 + 2 * MINUTE]);
    await queue.close();
  });

  it("an unschedule does not skip a fire that came due before it (the timer had not run yet)", async () => {
    const clock = clockAt("2027-01-01T00:00:00Z");
    const t0 = clock.now();
    const queue = await open(new MemoryStore(), clock);
    await queue.schedule("u", { cron: "* * * * *", queue: "jobs", payload: "" });
    // +1 and +2 min came due while this process owned the store (a wall step forward: the
    // timer notices within a scheduler interval); the removal comes after them.
    clock.stepWall(2 * MINUTE + 1_000);
    assert.equal(await queue.unschedule("u"), true);
    await settle(queue);
    assert.deepEqual(await firesOf(queue, "jobs", "u"), [t0 + MINUTE, t0 + 2 * MINUTE]);
    assert.deepEqual(await queue.listSchedules(), []);
    clock.advance(MINUTE);
    await settle(queue);
    assert.deepEqual(await firesOf(queue, "jobs", "u"), [t0 + MINUTE, t0 + 2 * MINUTE]);
    await queue.close();
  });

  it("an unschedule waits for the fires the removed schedule owes, not for those of the others", async () => {
    const clock = clockAt("2027-01-01T00:00:00Z");
    const t0 = clock.now();
    const queue = await open(new MemoryStore(), clock, frozenSlices());
    await queue.schedule("busy", { everyMs: 1_000, queue: "jobs", payload: "" });
    await queue.schedule("u", { everyMs: MINUTE, queue: "jobs", payload: "" });
    // A wall step forward: "busy" owes 20 turns of fires (256 a turn), "u" owes two.
    const due = 20 * FIRES_PER_TURN;
    clock.stepWall(due * 1_000);
    let turnsTaken = 0;
    let removed = false;
    const removal = queue.unschedule("u").then((result) => {
      removed = true;
      return result;
    });
    while (!removed && turnsTaken < 1_000) {
      await new Promise((resolve) => setImmediate(resolve));
      turnsTaken++;
    }
    assert.equal(await removal, true);
    assert.ok(turnsTaken < 10, `resolved after ${turnsTaken} turns`);
    for (let i = 0; i < 10; i++) await settle(queue); // the 20 turns of the others' fires
    const owed = Math.floor((due * 1_000) / MINUTE);
    assert.deepEqual(
      await firesOf(queue, "jobs", "u"),
      Array.from({ length: owed }, (_, i) => t0 + (i + 1) * MINUTE),
    );
    // The others' owed fires go on in the background all the same.
    assert.equal((await firesOf(queue, "jobs", "busy")).length, due);
    await queue.close();
  });

  // The owed fires of another schedule take two turns (256 a turn, and slices on a frozen
  // clock, so the split does not depend on the machine's speed): the first call drains a
  // turn's worth, the second the rest. The second must still land after the first.
  for (const due of [300, 400])
    for (const [second, expected] of [
      ["unschedule", []],
      ["replace", [["s", "c"]]],
    ] as const)
      it(`a replace then ${second === "unschedule" ? "an unschedule" : "a replace"} of one name land in call order while owed fires take two turns (${due} due)`, async () => {
        const clock = clockAt("2027-01-01T00:00:00Z");
        const queue = await open(new MemoryStore(), clock, frozenSlices());
        await queue.schedule("busy", { everyMs: 1_000, queue: "jobs", payload: "" });
        await queue.schedule("s", { everyMs: MINUTE, queue: "jobs", payload: "a" });
        clock.stepWall(due * 1_000);
        const first = queue.schedule("s", { everyMs: MINUTE, queue: "jobs", payload: "b" });
        const then =
          second === "unschedule"
            ? queue.unschedule("s")
            : queue.schedule("s", { everyMs: MINUTE, queue: "jobs", payload: "c" });
        assert.deepEqual(await Promise.all([first, then]), [
          undefined,
          second === "unschedule" ? true : undefined,
        ]);
        await settle(queue);
        const listed = (await queue.listSchedules()).filter((s) => s.name !== "busy");
        assert.deepEqual(
          listed.map((s) => [s.name, Buffer.from(s.payload).toString()]),
          expected,
        );
        // Every owed fire of "busy" came first.
        assert.equal((await firesOf(queue, "jobs", "busy")).length, due);
        await queue.close();
      });

  it("a refused schedule call holds up no later call; calls made before close are written, one after it is refused", async () => {
    const clock = clockAt("2027-01-01T00:00:00Z");
    const queue = await open(new MemoryStore(), clock);
    const refused = queue.schedule("s", { cron: "0 0 30 2 *", queue: "jobs", payload: "" });
    const later = queue.schedule("s", { everyMs: MINUTE, queue: "jobs", payload: "" });
    await assert.rejects(refused, InvalidArgumentError);
    await later;
    assert.deepEqual(
      (await queue.listSchedules()).map((s) => s.name),
      ["s"],
    );
    const removal = queue.unschedule("s");
    const closing = queue.close();
    const late = queue.schedule("late", { everyMs: MINUTE, queue: "jobs", payload: "" });
    await assert.rejects(late, ClosedError);
    assert.equal(await removal, true);
    await closing;
    await assert.rejects(
      queue.schedule("u", { everyMs: MINUTE, queue: "jobs", payload: "" }),
      ClosedError,
    );
    await assert.rejects(queue.unschedule("s"), ClosedError);

    // Calls queued behind one another, made before close(), are all written
    // too, and close() resolves after them.
    const spec = (payload: string) => ({ everyMs: MINUTE, queue: "jobs", payload });
    const settled: string[] = [];
    const track = (label: string, call: Promise<unknown>) =>
      call.then(
        (value) => settled.push(`${label}: ${String(value)}`),
        (error: unknown) => settled.push(`${label}: ${(error as Error).name}`),
      );
    const store = new MemoryStore();
    const first = await open(store, clock);
    await first.schedule("old", spec("o"));
    track("a", first.schedule("a", spec("a")));
    track("b", first.schedule("b", spec("b")));
    track("c", first.schedule("c", spec("c")));
    await track("close", first.close());
    const second = await open(store, clock);
    track("d", second.schedule("d", spec("d")));
    track("unschedule old", second.unschedule("old"));
    await track("close", second.close());
    // And a call queued behind one that first fires the times owed (over more than one turn).
    const third = await open(store, clock, frozenSlices());
    await third.schedule("busy", { everyMs: 1_000, queue: "jobs", payload: "" });
    clock.stepWall(300_000);
    track("replace busy", third.schedule("busy", { everyMs: 2_000, queue: "jobs", payload: "" }));
    track("e", third.schedule("e", spec("e")));
    await track("close", third.close());
    assert.deepEqual(settled, [
      "a: undefined",
      "b: undefined",
      "c: undefined",
      "close: undefined",
      "d: undefined",
      "unschedule old: true",
      "close: undefined",
      "replace busy: undefined",
      "e: undefined",
      "close: undefined",
    ]);
    const reopened = await open(store, clock);
    assert.deepEqual((await reopened.listSchedules()).map((s) => s.name).sort(), [
      "a",
      "b",
      "busy",
      "c",
      "d",
      "e",
    ]);
    assert.equal((await firesOf(reopened, "jobs", "busy")).length, 300);
    await reopened.close();
  });

  it("startAt, endAt and delayMs; a held dedupKey skips the fire", async () => {
    const clock = clockAt("2027-01-01T00:00:00Z");
    const t0 = clock.now();
    const queue = await open(new MemoryStore(), clock);
    await queue.schedule("window", {
      everyMs: MINUTE,
      queue: "w",
      payload: "",
      startAt: t0 + 5 * MINUTE,
      endAt: t0 + 8 * MINUTE,
      options: { delayMs: 30_000 },
    });
    await queue.schedule("once-waiting", {
      everyMs: MINUTE,
      queue: "d",
      payload: "",
      options: { dedupKey: "only-one" },
    });
    assert.equal((await queue.listSchedules())[1]!.nextRunAt, t0 + 5 * MINUTE);
    for (let i = 0; i < 10; i++) clock.advance(MINUTE);
    await settle(queue);
    assert.deepEqual(
      await firesOf(queue, "w", "window"),
      [5, 6, 7].map((k) => t0 + k * MINUTE),
    );
    assert.equal((await queue.stats("d")).pending, 1);
    const [, windowInfo] = await queue.listSchedules();
    assert.equal(windowInfo!.nextRunAt, null);
    await queue.close();
  });
});
