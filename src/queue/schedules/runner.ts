/**
 * Firing schedules in the process that owns the store.
 *
 * Every schedule's next fire time sits in a min-heap ({@link FireHeap}); one
 * timer, through the injected clock, is armed for the earliest. Fire times
 * are wall times, timers run on monotonic time: arming turns the wall delay
 * into a monotonic deadline and notes the offset between the two clocks. A
 * coarse watch (every `schedulerIntervalMs`, O(1)) compares that offset with
 * the current one and re-arms only when it moved, so a wall-clock step in
 * either direction is noticed within one interval without looking at any
 * schedule. A step that moves monotonic time too (a clock with no monotonic
 * reading of its own, or one that steps both) leaves the offset alone: the
 * timer itself notices it, as it re-reads such a clock every interval
 * (`clock.ts`). When the timer fires, wall time is read again: after a step
 * back it re-arms for what is left and never fires early. `schedule()` and
 * `unschedule()` move one heap entry (O(log n)); a fire computes one next
 * fire time.
 *
 * A fire is one `ScheduleFire` record that enqueues the job and moves the
 * schedule's `firedUpTo` to the fire time; `apply` refuses a fire at or before
 * `firedUpTo`. Replay, restarts, takeovers and wall-clock steps therefore
 * cannot fire a time twice, and every fire time that comes due while this
 * process owns the store fires (at most {@link FIRES_PER_TURN} per turn of the
 * event loop). At open, fire times after the last recorded fire, up to the
 * moment this process took the store (missed while no process owned it, or
 * left unfired by a frozen owner, which a taker cannot tell from a crashed
 * one), follow each schedule's `catchUp` (`catch-up.ts`); planning and
 * catching up run in slices of the event loop.
 */
import { type MonotonicClock, startTimer, type TimerHandle } from "../../clock.js";
import { messageOf } from "../../util/message.js";
import { nextTurn } from "../../util/slices.js";
import type { QueueCore } from "../core.js";
import type { EnqueueRecord } from "../records/enqueue.js";
import type { ScheduleFireRecord } from "../records/schedule.js";
import { Tag } from "../records/tags.js";
import { MAX_TIMESTAMP_MS } from "../validate.js";
import { checkEnqueueOptions } from "../validate-options.js";
import { ScheduleCalls } from "./call-order.js";
import { catchUp } from "./catch-up.js";
import { FireHeap } from "./fire-heap.js";
import { type CronExpression, nextFireAfter, StoredCrons, storedCron } from "./timing.js";
import type { Schedule } from "./types.js";
import { scheduleOptions } from "./validate.js";
import { ZoneOffsetFormats } from "./zone-gaps.js";

/** Most fires committed in one turn of the event loop. */
export const FIRES_PER_TURN = 256;

/**
 * Fires committed in a turn before its time budget is looked at: well under a
 * millisecond of work, and it makes the few fires one step of a clock brings
 * due commit within that step, however busy the machine (a budget read from
 * the process's clock would otherwise run out between two of them whenever
 * the process is descheduled, and leave the rest to a later turn).
 */
export const FIRES_BEFORE_BUDGET = 16;

/**
 * How far (ms) the offset between wall and monotonic time may drift before
 * the watch re-arms the timer (the two clocks round differently).
 */
const STEP_TOLERANCE_MS = 1;

/** What the runner knows of one schedule. */
interface Plan {
  /** The schedule object this was computed for (`apply` replaces it on every change). */
  readonly schedule: Schedule;
  readonly cron: CronExpression | undefined;
  readonly next: number | null;
  /** Why its fire times cannot be computed here (then `next` is `null`); `undefined` when they can. */
  readonly failure: unknown;
}

/** A cron parsed for a schedule, to be reused while its expression and zone stay the same. */
type Parsed = Pick<Plan, "schedule" | "cron">;

export class ScheduleRunner {
  /** The `schedule`/`unschedule` calls, in the order they were made. */
  readonly calls = new ScheduleCalls();
  /** The offset formats of the zones this queue's crons are checked in (`zone-gaps.ts`). */
  readonly zoneOffsets = new ZoneOffsetFormats();
  readonly #core: QueueCore;
  readonly #clock: MonotonicClock;
  readonly #intervalMs: number;
  readonly #plans = new Map<string, Plan>();
  readonly #heap = new FireHeap();
  #timer: TimerHandle | null = null;
  #watch: TimerHandle | null = null;
  /** Wall minus monotonic time when the timer was armed. */
  #offset = 0;
  #stopped = false;
  /** Set once the schedules are planned and caught up: fires may run. */
  #ready = false;
  #prepared: Promise<void> = Promise.resolve();
  /** A pass continues on the next turn (too many fires for one). */
  #continuing = false;
  /** Message of the last failed pass, reported once until a pass succeeds. */
  #failure: string | null = null;

  constructor(core: QueueCore, clock: MonotonicClock, schedulerIntervalMs: number) {
    this.#core = core;
    this.#clock = clock;
    this.#intervalMs = schedulerIntervalMs;
  }

  /**
   * At open: plans every schedule and handles the fire times it missed up to
   * `ownedAt` (when this process took the store) per its `catchUp`, in slices
   * of the event loop; then fires what is due and arms the timer.
   */
  start(ownedAt: number): void {
    this.#prepared = this.#prepare(ownedAt);
  }

  async #prepare(ownedAt: number): Promise<void> {
    const core = this.#core;
    // Schedules sharing a cron, a zone and the year of their last fire share one parse and
    // its checks (for thousands of schedules, most of planning's work); kept for the open only.
    const crons = new StoredCrons(this.zoneOffsets);
    const budget = core.sliceBudget();
    for (const name of [...core.state.schedules.keys()]) {
      if (budget.spent()) {
        await nextTurn();
        budget.start();
      }
      if (this.#stopped || core.closed) return;
      const s = core.state.schedules.get(name);
      if (s === undefined) continue;
      let cron: CronExpression | undefined;
      try {
        cron = this.#cronOf(s, crons);
        await catchUp(s, ownedAt, cron, {
          commit: (record) => this.#commit(record),
          fire: (schedule, fireAt) => this.#fire(schedule, fireAt, core.now()),
          current: () => core.state.schedules.get(name),
          logger: core.logger,
          budget,
          stopped: () => this.#stopped || core.closed,
        });
      } catch (error) {
        core.logger.error(
          `schedule ${JSON.stringify(name)}: catching up failed: ${messageOf(error)}`,
        );
      }
      // Catching up replaced `s` (its last fire moved): plan with the cron parsed for it.
      this.#plan(name, { schedule: s, cron });
    }
    this.#ready = true;
    this.#pass();
  }

  /** Resolves once every schedule is planned (at open, planning runs in slices). */
  planned(): Promise<void> {
    return this.#prepared;
  }

  /**
   * The next fire time of `s`, or `null`; throws why it cannot be computed
   * here (an unknown time zone, say), for the listing to report.
   */
  next(s: Schedule): number | null {
    if (this.#core.state.schedules.get(s.name) === s) {
      const plan = this.#plan(s.name);
      if (plan !== undefined && plan.failure !== undefined) throw plan.failure;
      return plan?.next ?? null;
    }
    return nextFireAfter(s, s.firedUpTo, this.#cronOf(s));
  }

  /**
   * Fires everything due now (of schedule `only`, when given), a turn's
   * worth at a time, and resolves once nothing is: run before a schedule is
   * replaced or removed, so the times its old definition owes are never
   * skipped (without waiting for what the others owe: the timer's pass fires
   * those), and at close. A failure is left to the timer's pass to report.
   */
  async fireDueNow(only?: string): Promise<void> {
    await this.#prepared;
    try {
      while (!this.#stopped && !this.#core.closed && this.#fireDue(only)) await nextTurn();
    } catch {
      // Reported by the next pass.
    }
  }

  /** Schedule `name` was set or removed: re-plan it, and re-arm for the earliest fire. */
  changed(name: string): void {
    if (this.#stopped) return;
    this.#plan(name);
    if (this.#ready && !this.#continuing) this.#pass();
  }

  /** Stops for good: no timer fires or arms again. */
  stop(): void {
    this.#stopped = true;
    this.#timer?.cancel();
    this.#timer = null;
    this.#watch?.cancel();
    this.#watch = null;
    this.#plans.clear();
    this.#heap.clear();
  }

  /**
   * The parsed cron of `s` (reused from its plan while the expression is the
   * same). A stored one that never fires after its last fire (every time in
   * a daylight-saving gap: `schedule()` refuses it now) throws, so it is
   * listed with that error rather than searched to the year 3000 at each plan.
   * `parsed` is another earlier parse to reuse (one made for catching up), or
   * the parses shared by the open's planning.
   */
  #cronOf(s: Schedule, parsed?: Parsed | StoredCrons): CronExpression | undefined {
    if (s.cron === undefined) return undefined;
    const earlier = parsed instanceof StoredCrons ? undefined : parsed;
    for (const known of [this.#plans.get(s.name), earlier])
      if (
        known?.cron !== undefined &&
        known.schedule.cron === s.cron &&
        known.schedule.timezone === s.timezone
      )
        return known.cron;
    return parsed instanceof StoredCrons ? parsed.of(s) : storedCron(s, this.zoneOffsets);
  }

  /**
   * Brings the plan and heap entry of `name` up to date with the state;
   * `undefined` once gone. `parsed`: a cron already parsed for it.
   */
  #plan(name: string, parsed?: Parsed): Plan | undefined {
    const s = this.#core.state.schedules.get(name);
    if (s === undefined) {
      this.#plans.delete(name);
      this.#heap.delete(name);
      return undefined;
    }
    const known = this.#plans.get(name);
    if (known !== undefined && known.schedule === s) return known;
    let plan: Plan;
    try {
      const cron = this.#cronOf(s, parsed);
      plan = { schedule: s, cron, next: nextFireAfter(s, s.firedUpTo, cron), failure: undefined };
    } catch (error) {
      // A stored expression this runtime cannot evaluate (a time zone unknown to its
      // tz data, say): the schedule stays, unfired, and the others go on.
      plan = { schedule: s, cron: undefined, next: null, failure: error };
      this.#core.logger.error(
        `schedule ${JSON.stringify(name)} cannot be planned and does not fire: ${messageOf(error)}`,
      );
    }
    this.#plans.set(name, plan);
    if (plan.next === null) this.#heap.delete(name);
    else this.#heap.set(name, plan.next);
    return plan;
  }

  /** Fires what is due (up to a turn's worth), then re-arms or continues next turn. */
  #pass(): void {
    if (this.#stopped || this.#core.closed || !this.#ready) return;
    this.#timer?.cancel();
    this.#timer = null;
    try {
      if (this.#fireDue()) {
        this.#continuing = true;
        void nextTurn().then(() => {
          this.#continuing = false;
          this.#pass();
        });
        return;
      }
      this.#failure = null;
    } catch (error) {
      const message = messageOf(error);
      if (this.#failure !== message) {
        this.#failure = message;
        this.#core.logger.error(
          `schedule pass failed; retrying in ${this.#intervalMs} ms: ${message}`,
        );
      }
      this.#armIn(this.#intervalMs);
      return;
    }
    this.#arm();
  }

  /**
   * Commits the fires due now (of schedule `only`, when given, else of all,
   * earliest first), at most a turn's worth; true when more are due.
   */
  #fireDue(only?: string): boolean {
    const core = this.#core;
    const now = core.now();
    const budget = core.sliceBudget();
    let fired = 0;
    for (;;) {
      if (core.closed) return false;
      let name: string;
      if (only === undefined) {
        const earliest = this.#heap.peek();
        if (earliest === undefined || earliest.at > now) return false;
        name = earliest.name;
      } else {
        const next = this.#plan(only)?.next;
        if (next === undefined || next === null || next > now) return false;
        name = only;
      }
      if (fired === FIRES_PER_TURN || (fired >= FIRES_BEFORE_BUDGET && budget.spent())) return true;
      const plan = this.#plan(name);
      // A stale entry (the state changed without a word) is re-planned: look again.
      if (plan === undefined || plan.next === null || plan.next > now) continue;
      this.#fire(plan.schedule, plan.next, now);
      fired++;
      this.#plan(name);
    }
  }

  /** Arms the timer for the earliest next fire, and the clock-step watch. */
  #arm(): void {
    const earliest = this.#heap.peek();
    if (earliest === undefined) {
      this.#watch?.cancel();
      this.#watch = null;
      return;
    }
    this.#armIn(Math.max(0, earliest.at - this.#clock.now()));
  }

  #armIn(delayMs: number): void {
    if (this.#stopped) return;
    this.#timer?.cancel();
    this.#offset = this.#clock.now() - this.#clock.monotonicNow();
    this.#timer = startTimer(this.#clock, delayMs, () => {
      this.#timer = null;
      this.#pass();
    });
    if (this.#watch === null) this.#armWatch();
  }

  /** Every interval: re-arms when the wall clock stepped since the timer was armed. O(1). */
  #armWatch(): void {
    this.#watch = startTimer(this.#clock, this.#intervalMs, () => {
      this.#watch = null;
      if (this.#stopped || this.#heap.size === 0) return;
      const offset = this.#clock.now() - this.#clock.monotonicNow();
      if (Math.abs(offset - this.#offset) > STEP_TOLERANCE_MS && !this.#continuing) this.#pass();
      if (this.#watch === null && !this.#stopped) this.#armWatch();
    });
  }

  /** Commits the fire of `s` at `fireAt` with its job (none when its dedup key is held). */
  #fire(s: Schedule, fireAt: number, now: number): void {
    const job = this.#job(s, fireAt, now);
    this.#commit({ tag: Tag.ScheduleFire, name: s.name, fireAt, job });
    if (job === undefined) return;
    if (job.runAt === undefined) this.#core.dispatch(job.queue);
    else this.#core.timers.scheduleAt(job.runAt);
  }

  #commit(record: ScheduleFireRecord): void {
    this.#core.commitInBackground([record]);
  }

  /** The job a fire of `s` at `fireAt` enqueues, or `undefined` when its dedup key is held. */
  #job(s: Schedule, fireAt: number, now: number): EnqueueRecord | undefined {
    const core = this.#core;
    const stored = scheduleOptions(s.options);
    // An empty dedup key, refused since, may be stored with a schedule set before: it keeps firing with it.
    const emptyKey = stored.dedupKey === "";
    if (emptyKey) delete stored.dedupKey;
    const options = checkEnqueueOptions(
      stored,
      core.settings.configs.get(s.queue),
      `schedule ${JSON.stringify(s.name)} options`,
    );
    const dedupKey = emptyKey ? "" : (options.dedupKey ?? `schedule:${s.name}:${fireAt}`);
    if (core.state.queues.get(s.queue)?.dedup.has(dedupKey)) return undefined;
    const runAt =
      options.delayMs === undefined || options.delayMs === 0
        ? undefined
        : Math.min(now + options.delayMs, MAX_TIMESTAMP_MS);
    return {
      // Every field, in the order of `enqueueRecordOf`'s: one hidden class for every enqueue record.
      tag: Tag.Enqueue,
      id: core.ids.next(now),
      queue: s.queue,
      payload: s.payload,
      payloadRef: undefined,
      headers: options.headers,
      trace: undefined,
      priority: options.priority,
      maxAttempts: options.maxAttempts,
      enqueuedAt: now,
      runAt,
      dedupKey,
      jobId: undefined,
      timeoutMs: options.timeoutMs,
      groupKey: options.groupKey,
      flowParent: undefined,
      waitsForChildren: undefined,
    };
  }
}
