/** Counting turns of the event loop in tests (a `setImmediate` chain). */
import { type MonotonicNow, SLICE_MS, SliceBudget, type TurnWindow } from "../src/util/slices.js";

/**
 * A running count of event-loop turns; `stop()` ends the chain. `onTurn`, when
 * given, runs at each turn the counter sees.
 */
export function turnCounter(onTurn?: () => void): { readonly turns: number; stop(): void } {
  let turns = 0;
  let counting = true;
  const tick = (): void => {
    turns++;
    onTurn?.();
    if (counting) setImmediate(tick);
  };
  setImmediate(tick);
  return {
    get turns() {
      return turns;
    },
    stop() {
      counting = false;
    },
  };
}

/** `f`'s result, and how many turns the event loop took meanwhile. */
export async function turnsDuring<T>(f: () => Promise<T>): Promise<{ result: T; turns: number }> {
  const counter = turnCounter();
  try {
    return { result: await f(), turns: counter.turns };
  } finally {
    counter.stop();
  }
}

/**
 * Runs `onTick` at each run of a `setTimeout(0)` chain until `stop()`: in every
 * timers phase, since the chain's timer is queued no later than any 0 ms timer
 * set in the turn before (such as a turn window's closer) and runs ahead of it.
 * With {@link turnCounter}, a turn then ends at a timers phase as well as at a
 * check phase: work that starts in a timers or poll phase after a window
 * closed there is not counted with the check phase's work before it.
 */
export function timersTicker(onTick: () => void): { stop(): void } {
  let ticking = true;
  const tick = (): void => {
    onTick();
    if (ticking) setTimeout(tick, 0);
  };
  setTimeout(tick, 0);
  return {
    stop() {
      ticking = false;
    },
  };
}

/**
 * The most `clock` moved between two turns of the event loop while `work`
 * ran, a turn ending at a check phase ({@link turnCounter}) and at a timers
 * phase ({@link timersTicker}).
 */
export async function worstTurn(
  clock: { readonly at: number },
  work: () => Promise<unknown>,
  options: {
    /**
     * The first check phase counted (1 is the first): the work's first slices
     * may start outside a check phase, in the test's own flow, in a window of
     * their own. Default 0: every turn from the call on.
     */
    fromTurn?: number;
    /** Other work started after the counters; returns its stop. */
    beside?: () => () => void;
    /** Also count the stretch from the last turn seen to the work's end. */
    countEnd?: boolean;
  } = {},
): Promise<number> {
  const fromTurn = options.fromTurn ?? 0;
  let last = clock.at;
  let worst = 0;
  let turns = 0;
  const seen = (): void => {
    if (turns >= fromTurn) worst = Math.max(worst, clock.at - last);
    last = clock.at;
  };
  const counter = turnCounter(() => {
    turns++;
    seen();
  });
  const timers = timersTicker(seen);
  const stop = options.beside?.();
  try {
    await work();
  } finally {
    counter.stop();
    timers.stop();
    stop?.();
  }
  if (options.countEnd === true) seen();
  return worst;
}

/**
 * A slice clock that moves `step` ms at every reading (work costs what it
 * reads, not the machine's time); `step` may be changed, and `reads` counts.
 */
export function steppingClock(step: number): {
  now: () => number;
  step: number;
  at: number;
  reads: number;
} {
  const clock = {
    step,
    at: 0,
    reads: 0,
    now: () => {
      clock.reads++;
      clock.at += clock.step;
      return clock.at;
    },
  };
  return clock;
}

/**
 * A queue's other sliced work (a bulk removal): in every check phase, a slice
 * of `window` that works until it is spent. Returns its stop.
 */
export function rival(now: MonotonicNow, window: TurnWindow): () => void {
  let on = true;
  const budget = new SliceBudget(SLICE_MS, now, window);
  const turn = (): void => {
    if (!on) return;
    budget.start();
    while (!budget.spent());
    setImmediate(turn);
  };
  setImmediate(turn);
  return () => {
    on = false;
  };
}

/**
 * Slices of `window` on `now`, `ms` long, each started when made: what a
 * queue's `sliceBudget` hands its background passes.
 */
export function slicesOf(now: MonotonicNow, window: TurnWindow, ms = SLICE_MS): () => SliceBudget {
  return () => {
    const budget = new SliceBudget(ms, now, window);
    budget.start();
    return budget;
  };
}
