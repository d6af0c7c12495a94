/**
 * Firing schedules in the process that owns the store. One timer, through
 * the injected clock, aims at the earliest next fire time of any schedule:
 * the wall delay is turned into a monotonic deadline (never more than
 * `schedulerIntervalMs` ahead, so a wall-clock step is noticed within that
 * interval), and wall time is read again when it fires, so a step back
 * re-arms for what is left and never fires early.
 *
 * A fire is one `ScheduleFire` record that enqueues the job and moves the
 * schedule's `firedUpTo` to the fire time; `apply` refuses a fire at or before
 * `firedUpTo`. Replay, restarts, takeovers and wall-clock steps therefore
 * cannot fire a time twice, and every fire time that comes due while this
 * process owns the store fires (at most {@link FIRES_PER_TURN} per turn of the
 * event loop). At open, fire times missed while no process owned the store
 * follow each schedule's `catchUp`.
 */
import { type MonotonicClock, startTimer, type TimerHandle } from "../../clock.js";
import { nextTurn } from "../../util/slices.js";
import type { QueueCore } from "../core.js";
import type { EnqueueRecord } from "../records/enqueue.js";
import type { ScheduleFireRecord } from "../records/schedule.js";
import { Tag } from "../records/tags.js";
import { checkEnqueueOptions, MAX_TIMESTAMP_MS } from "../validate.js";
import { type CronExpression, lastFireUpTo, nextFireAfter, parseCron } from "./timing.js";
import type { Schedule } from "./types.js";
import { scheduleOptions } from "./validate.js";

/** Most fires committed in one turn of the event loop. */
export const FIRES_PER_TURN = 256;

interface Cached {
  /** The schedule object this was computed for (`apply` replaces it on every change). */
  readonly schedule: Schedule;
  readonly cron: CronExpression | undefined;
  readonly next: number | null;
}

export class ScheduleRunner {
  readonly #core: QueueCore;
  readonly #clock: MonotonicClock;
  readonly #intervalMs: number;
  readonly #cache = new Map<string, Cached>();
  #timer: TimerHandle | null = null;
  #stopped = false;
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
   * At open: each schedule's fire times missed while no process owned the
   * store are handled per its `catchUp` ("all" leaves them to the first
   * pass), then the first pass runs.
   */
  start(): void {
    const core = this.#core;
    const now = core.now();
    for (const s of [...core.state.schedules.values()]) {
      if (s.catchUp === "all") continue;
      try {
        const last = lastFireUpTo(s, s.firedUpTo, now, this.#entry(s).cron);
        if (last === null) continue;
        if (s.catchUp === "latest") this.#fire(s, last, now);
        else this.#commit({ tag: Tag.ScheduleFire, name: s.name, fireAt: last, job: undefined });
      } catch (error) {
        core.logger.error(
          `schedule ${JSON.stringify(s.name)}: catching up failed: ${error instanceof Error ? error.message : String(error)}`,
        );
      }
    }
    this.#pass();
  }

  /** The next fire time of `s` (cached per schedule object), or `null`. */
  next(s: Schedule): number | null {
    return this.#entry(s).next;
  }

  /**
   * Fires everything due now, a turn's worth at a time, and resolves once
   * nothing is: run before a schedule is replaced, so the times its old
   * definition owes are never skipped. A failure is left to the timer's
   * pass to report.
   */
  async fireDueNow(): Promise<void> {
    try {
      while (!this.#stopped && !this.#core.closed && this.#fireDue()) await nextTurn();
    } catch {
      // Reported by the next pass.
    }
  }

  /** A schedule was set or removed: re-arm for the new earliest fire. */
  changed(): void {
    if (!this.#continuing) this.#pass();
  }

  /** Stops for good: no timer fires or arms again. */
  stop(): void {
    this.#stopped = true;
    this.#timer?.cancel();
    this.#timer = null;
    this.#cache.clear();
  }

  #entry(s: Schedule): Cached {
    const cached = this.#cache.get(s.name);
    if (cached !== undefined && cached.schedule === s) return cached;
    const sameCron =
      cached !== undefined &&
      cached.schedule.cron === s.cron &&
      cached.schedule.timezone === s.timezone;
    const cron =
      s.cron === undefined ? undefined : sameCron ? cached.cron : parseCron(s.cron, s.timezone);
    const entry = { schedule: s, cron, next: nextFireAfter(s, s.firedUpTo, cron) };
    this.#cache.set(s.name, entry);
    return entry;
  }

  /** Fires what is due (up to a turn's worth), then re-arms or continues next turn. */
  #pass(): void {
    if (this.#stopped || this.#core.closed) return;
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
      const message = error instanceof Error ? error.message : String(error);
      if (this.#failure !== message) {
        this.#failure = message;
        this.#core.logger.error(`schedule pass failed; retrying at its next tick: ${message}`);
      }
    }
    this.#arm();
  }

  /** Commits the fires due now, at most {@link FIRES_PER_TURN}; true when more are due. */
  #fireDue(): boolean {
    const core = this.#core;
    const now = core.now();
    let fired = 0;
    for (const name of [...core.state.schedules.keys()]) {
      for (;;) {
        if (core.closed) return false;
        const s = core.state.schedules.get(name);
        if (s === undefined) break;
        const next = this.#entry(s).next;
        if (next === null || next > now) break;
        if (fired === FIRES_PER_TURN) return true;
        this.#fire(s, next, now);
        fired++;
      }
    }
    for (const name of this.#cache.keys())
      if (!core.state.schedules.has(name)) this.#cache.delete(name);
    return false;
  }

  /** Arms the timer for the earliest next fire (within one scheduler interval). */
  #arm(): void {
    if (this.#stopped) return;
    let earliest = Number.POSITIVE_INFINITY;
    for (const s of this.#core.state.schedules.values()) {
      const next = this.#entry(s).next;
      if (next !== null && next < earliest) earliest = next;
    }
    if (earliest === Number.POSITIVE_INFINITY) return;
    const delay = Math.max(0, Math.min(earliest - this.#clock.now(), this.#intervalMs));
    this.#timer = startTimer(this.#clock, delay, () => {
      this.#timer = null;
      this.#pass();
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
    const options = checkEnqueueOptions(
      scheduleOptions(s.options),
      core.settings.configs.get(s.queue),
      `schedule ${JSON.stringify(s.name)} options`,
    );
    const dedupKey = options.dedupKey ?? `schedule:${s.name}:${fireAt}`;
    if (core.state.queues.get(s.queue)?.dedup.has(dedupKey)) return undefined;
    const runAt =
      options.delayMs === undefined || options.delayMs === 0
        ? undefined
        : Math.min(now + options.delayMs, MAX_TIMESTAMP_MS);
    return {
      tag: Tag.Enqueue,
      id: core.ids.next(now),
      queue: s.queue,
      payload: s.payload,
      headers: options.headers,
      priority: options.priority,
      maxAttempts: options.maxAttempts,
      enqueuedAt: now,
      runAt,
      dedupKey,
      ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
      ...(options.groupKey === undefined ? {} : { groupKey: options.groupKey }),
    };
  }
}
