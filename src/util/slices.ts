/**
 * Owns how long-running work shares the host's event loop: it runs in slices
 * of a few milliseconds and gives the loop a turn between them, so timers,
 * I/O and the host's own requests never wait behind taquba for long.
 *
 * Slices are CPU budgets, not behaviour: they read the process's monotonic
 * clock (`performance.now()`), never the injected `Clock` (a test may pass
 * a clock of its own, see {@link SLICE_CLOCK}).
 */

import { performance } from "node:perf_hooks";
import { timersPhaseLater, turnLater } from "./timers.js";

/** How long one slice of background work may run before it yields. */
export const SLICE_MS = 4;

/** Resolves after the event loop had a turn (timers and I/O ran). */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => turnLater(resolve));
}

/** A monotonic clock in milliseconds; `performance.now()` unless a test drives time by hand. */
export type MonotonicNow = () => number;

/** The process's monotonic clock: what slices run on unless a test passes its own. */
export const processNow: MonotonicNow = () => performance.now();

/**
 * Registry key of the test-only slice clock: a `MonotonicNow` set under this
 * key on `Queue.open`'s options replaces `performance.now()` for every slice
 * budget and step sizer of that queue (its open, replay, restore and bulk
 * work); on the read-only log reads' options (`readLog`, `readLogAfter`,
 * `inspectLog`), for their listing, replay and checks. A deterministic simulation passes a clock that counts its own
 * readings, so where work yields no longer depends on how fast the machine is.
 */
export const SLICE_CLOCK = Symbol.for("taquba.sliceClock");

/** The slice clock set on `options` under {@link SLICE_CLOCK}, else the process's clock. */
export function sliceClockOf(options: object | undefined): MonotonicNow {
  const now = (options as Record<symbol, unknown> | undefined)?.[SLICE_CLOCK];
  return typeof now === "function" ? (now as MonotonicNow) : processNow;
}

/**
 * Registry key of the test-only stand-in for the timers phase: a
 * `(callback) => void` set under this key on `Queue.open`'s options queues
 * the closer of that queue's {@link TurnWindow} (see {@link turnWindowOf})
 * in place of a 0 ms timer of the process. A deterministic simulation runs
 * it when its own clock has moved a millisecond, so which slices share a
 * window follows the run, not how fast the machine is (with a 0 ms timer, a
 * window opened in one turn of the run's scheduler closes in that turn's
 * timers phase or a later one depending on how long the turn took).
 */
export const SLICE_TIMERS = Symbol.for("taquba.sliceTimers");

/** Queues `callback` to run at a timers phase a millisecond or more from now. */
export type TimersPhaseLater = (callback: () => void) => void;

/**
 * A queue's turn window, closing at the stand-in for the timers phase set on
 * `options` under {@link SLICE_TIMERS}, else at the process's timers phase.
 */
export function turnWindowOf(options: object | undefined): TurnWindow {
  const later = (options as Record<symbol, unknown> | undefined)?.[SLICE_TIMERS];
  return new TurnWindow(
    SLICE_SHARE_MS,
    typeof later === "function" ? (later as TimersPhaseLater) : timersPhaseLater,
  );
}

/** The least time a slice gets in a turn whose {@link TurnWindow} other slices spent. */
export const SLICE_SHARE_MS = 1;

/**
 * One window of {@link SLICE_MS} shared by the slices of different pieces of
 * work that run in the same turn of the event loop (a bulk removal, the
 * checkpoint being encoded meanwhile): each piece yields for its own turn,
 * so all of them resume in one check phase, and with a
 * budget each the turn would last one slice per piece. Owned by one queue:
 * two queues' work is not weighed together.
 *
 * Shares: the first slice of a turn opens the window with its own length,
 * or a commit does (work that cannot yield, see {@link charge}): one of
 * `shareMs` or more, while sliced work is under way, opens the window at
 * the commit's start with {@link SLICE_MS}, and queues the same closers.
 * Each slice gets what is left of it, split between the slices still to
 * come that need time: as many as ran out of their time in the window before
 * (cheap slices, which finish before their deadline, take no part and leave
 * what they did not use), less those that already ran out in this one. So
 * pieces that all need time advance at the same pace whichever resumes
 * first, and a piece never gets less than `shareMs` (progress in every turn).
 *
 * Turns: a window ends at the next phase of the event loop. When it opens
 * it queues an unref'd timer of 0 ms, which closes whatever window is open
 * (due at the next timers phase once the opening slice ran a millisecond:
 * a slice started from a timer or after I/O in the next iteration gets a
 * window of its own). It also queues one check-phase callback, ahead of
 * the continuations of the slices that run in it, so in the next check
 * phase the window is closed before they resume (cheap calls, which join an
 * open window, cost no callback). That closer closes only the window it came
 * from: a window opened in a timers or poll phase stays open through the
 * check phase after it (the continuations queued in the check phase before
 * run ahead of its closer), so one iteration of the loop gets one window,
 * not one per phase.
 * Left over: a timer due less than a millisecond after the window opened
 * runs before the closing one and joins the old window, and a window opened
 * in a timers phase before the closing timer ran ends with it (a second
 * window in that phase).
 */
export class TurnWindow {
  readonly #shareMs: number;
  readonly #timersPhaseLater: TimersPhaseLater;
  #end = 0;
  #open = false;
  /** Which window a slice's deadline came from (to count its running out in that one). */
  #generation = 0;
  /** Slices that ran out of their time in the current window, and in the one before. */
  #ranOut = 0;
  #parts = 1;
  readonly #closeAtTimers = (): void => {
    this.#open = false;
  };

  /** `later`: how the closer is queued for the next timers phase (a test's stand-in, see {@link SLICE_TIMERS}). */
  constructor(shareMs = SLICE_SHARE_MS, later: TimersPhaseLater = timersPhaseLater) {
    this.#shareMs = shareMs;
    this.#timersPhaseLater = later;
  }

  /** The window the next {@link deadline} comes from. */
  get generation(): number {
    return this.#open ? this.#generation : this.#generation + 1;
  }

  /**
   * The deadline of a slice of `ms` starting at `now` (the first of its turn
   * opens the window with its own length): its part of what is left of the
   * window, but at least `shareMs`, and never past `now + ms`.
   */
  deadline(now: number, ms: number): number {
    if (!this.#open) this.#openAt(now, ms);
    const partsLeft = Math.max(1, this.#parts - this.#ranOut);
    const part = Math.max(this.#shareMs, (this.#end - now) / partsLeft);
    return now + Math.min(ms, part);
  }

  /**
   * Where work outside any slice (a commit: one synchronous step that cannot
   * yield) starting now is charged from (see {@link charge}): a reading of
   * `now`, or `null` without reading it when no charge is needed. An open
   * window counts the work's time already (its end is a time), and a closed
   * one none of whose slices ran out of their time has no sliced work under
   * way to hold back, so the commits of a queue that runs no bulk work read
   * no clock.
   */
  chargeFrom(now: MonotonicNow): number | null {
    return this.#open || this.#ranOut === 0 ? null : now();
  }

  /**
   * The work {@link chargeFrom} gave `started` for ended now (by `now`): if
   * it ran `shareMs` or more, a window opens at `started`, so the slices
   * that run after it in the same turn take what it left of the window
   * (their least share once it ran a slice or more), not a window of their
   * own. Shorter work queues no callbacks.
   */
  charge(started: number | null, now: MonotonicNow): void {
    if (started === null || this.#open || now() - started < this.#shareMs) return;
    this.#openAt(started, SLICE_MS);
  }

  /** A slice whose deadline came from window `generation` ran out of its time. */
  ranOut(generation: number): void {
    if (generation !== this.#generation) return;
    this.#ranOut++;
  }

  #openAt(now: number, ms: number): void {
    this.#open = true;
    this.#generation++;
    this.#end = now + ms;
    this.#parts = Math.max(1, this.#ranOut);
    this.#ranOut = 0;
    this.#timersPhaseLater(this.#closeAtTimers);
    // A window no slice runs out of still ends by the next check phase, so a slice started there
    // (long after, past the host's own work) does not join it with nothing left.
    const generation = this.#generation;
    turnLater(() => this.#closeAtCheck(generation));
  }

  /** A check-phase closer queued by a slice of window `generation` runs. */
  #closeAtCheck(generation: number): void {
    if (generation === this.#generation) this.#open = false;
  }
}

/** The time budget of one slice: started, then asked whether it ran out. */
export class SliceBudget {
  readonly #ms: number;
  readonly #now: MonotonicNow;
  readonly #window: TurnWindow | undefined;
  #deadline = 0;
  /** The window of the current slice, until it is told the slice ran out (once). */
  #windowGeneration: number | null = null;

  /** `window`: the turn's window this slice shares with others (it also ends by its own `ms`). */
  constructor(ms = SLICE_MS, now: MonotonicNow = processNow, window?: TurnWindow) {
    this.#ms = ms;
    this.#now = now;
    this.#window = window;
  }

  /** Starts a new slice. */
  start(): void {
    const now = this.#now();
    const window = this.#window;
    if (window === undefined) {
      this.#deadline = now + this.#ms;
      return;
    }
    this.#windowGeneration = window.generation;
    this.#deadline = window.deadline(now, this.#ms);
  }

  /** Whether the current slice used up its budget. */
  spent(): boolean {
    if (this.#now() < this.#deadline) return false;
    if (this.#windowGeneration !== null) {
      this.#window!.ranOut(this.#windowGeneration);
      this.#windowGeneration = null;
    }
    return true;
  }

  /** Milliseconds left in the current slice (0 once spent). */
  remainingMs(): number {
    return Math.max(0, this.#deadline - this.#now());
  }
}

/** Items a loop over many small items looks at between two checks of its slice's budget. */
export const ITEMS_PER_CHECK = 256;

/**
 * In a loop over many small items: whether item `i` is one to check
 * `budget` at (every {@link ITEMS_PER_CHECK}), and its slice is spent (the
 * loop then yields with {@link nextSlice}).
 */
export function spentAt(budget: SliceBudget, i: number): boolean {
  return i % ITEMS_PER_CHECK === ITEMS_PER_CHECK - 1 && budget.spent();
}

/** A turn of the event loop, then a new slice of `budget`. */
export async function nextSlice(budget: SliceBudget): Promise<void> {
  await nextTurn();
  budget.start();
}

/** The lowest cost per item a {@link StepSizer} assumes (a nanosecond). */
const MIN_MS_PER_ITEM = 1e-6;

/** The first step after {@link StepSizer.restart} takes this many times the least step at most. */
const PROBE_STEPS = 4;
/** How much larger each timed step lets the next one be after a restart. */
const PROBE_GROWTH = 4;

/**
 * Sizes the steps of bulk work (records of many jobs, groups of records) to
 * the time left in a slice rather than to a fixed count: it times each step
 * and keeps an estimate of the cost per item, which follows a slower step at
 * once and a faster one by halves, so a loaded machine gets smaller steps.
 * Fixed costs per step are folded into the per-item estimate, which makes a
 * step of `size` items take about the time it was given.
 */
export class StepSizer {
  readonly #min: number;
  readonly #max: number;
  readonly #now: MonotonicNow;
  #msPerItem: number;
  #started = 0;
  /** The most items the next step may take (see {@link restart}). */
  #cap: number;

  /**
   * `min` items per step at least (progress on any machine), `max` at most
   * (what one record may hold), `msPerItem` the first estimate.
   */
  constructor(min: number, max: number, msPerItem: number, now: MonotonicNow = processNow) {
    this.#min = min;
    this.#max = max;
    this.#msPerItem = msPerItem;
    this.#now = now;
    this.#cap = max;
  }

  /**
   * Work resumes after a pause (a new pass of a timer): the estimate is a
   * guess again (the items may be of another kind, code and caches cold), so
   * the next step takes {@link PROBE_STEPS} times `min` items at most, and
   * each timed step after it lets the next one take {@link PROBE_GROWTH}
   * times as many, until `max`. A step that costs more per item than the
   * estimate then overruns its slice by little, not by that factor times a
   * whole slice.
   */
  restart(): void {
    this.#cap = Math.min(this.#max, this.#min * PROBE_STEPS);
  }

  /** Items that fit in what is left of `budget`'s slice, from `min` to `max`. */
  size(budget: SliceBudget): number {
    const fit = Math.floor(budget.remainingMs() / this.#msPerItem);
    return Math.min(this.#cap, Math.max(this.#min, fit));
  }

  /** A timed step starts. */
  begin(): void {
    this.#started = this.#now();
  }

  /** The step started by {@link begin} handled `items` items. */
  end(items: number): void {
    if (items <= 0) return;
    this.#cap = Math.min(this.#max, this.#cap * PROBE_GROWTH);
    const perItem = Math.max(MIN_MS_PER_ITEM, (this.#now() - this.#started) / items);
    this.#msPerItem = perItem >= this.#msPerItem ? perItem : Math.max(perItem, this.#msPerItem / 2);
  }
}

/** Items sorted with the built-in sort as one run, before runs are merged. */
const SORT_RUN = 512;
/** Items merged between two checks of the budget. */
const MERGE_PER_CHECK = 1_024;

/**
 * `items` sorted by `compare` (a new array; `items` is left alone), in slices
 * of the event loop: runs of a few hundred sorted at once, then merged
 * bottom-up with a budget check every thousand items. For lists long enough
 * that one `sort` would hold the loop (tens of thousands of strings).
 * `turn`: how it yields between slices ({@link nextTurn} unless given).
 */
export async function sortInSlices<T>(
  items: readonly T[],
  compare: (a: T, b: T) => number,
  budget: SliceBudget = new SliceBudget(),
  turn: () => Promise<void> = nextTurn,
): Promise<T[]> {
  const n = items.length;
  let from: T[] = [];
  budget.start();
  for (let lo = 0; lo < n; lo += SORT_RUN) {
    for (const item of items.slice(lo, lo + SORT_RUN).sort(compare)) from.push(item);
    if (budget.spent()) {
      await turn();
      budget.start();
    }
  }
  let to: T[] = new Array<T>(n);
  for (let width = SORT_RUN; width < n; width *= 2) {
    let out = 0;
    let sinceCheck = 0;
    for (let lo = 0; lo < n; lo += 2 * width) {
      const mid = Math.min(n, lo + width);
      const hi = Math.min(n, lo + 2 * width);
      let i = lo;
      let j = mid;
      while (i < mid || j < hi) {
        to[out++] =
          j >= hi || (i < mid && compare(from[i]!, from[j]!) <= 0) ? from[i++]! : from[j++]!;
        if (++sinceCheck === MERGE_PER_CHECK) {
          sinceCheck = 0;
          if (budget.spent()) {
            await turn();
            budget.start();
          }
        }
      }
    }
    [from, to] = [to, from];
  }
  return from;
}
