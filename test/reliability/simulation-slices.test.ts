import assert from "node:assert/strict";
import { performance } from "node:perf_hooks";
import { after, before, describe, it } from "node:test";
import { type MonotonicNow, SliceBudget, TurnWindow } from "../../src/util/slices.js";
import { seedsToRun } from "./lib/seeds.js";
import { runSimulation } from "./lib/sim.js";

/**
 * Where a simulated run's slices end follows the run, not the machine: two
 * runs of one seed, the second as on a machine slower by 2 ms at every slice
 * that takes its deadline from the queue's turn window, give every slice the
 * same deadline, run out at the same checks of their budgets and charge the
 * same commits to the window. (The window closes at the next timers phase:
 * with a timer of the process, a window opened in one turn of the run's
 * scheduler closed in that turn or a later one depending on how long the
 * turn took, and slices joined it or opened one of their own accordingly.)
 */
const SEEDS = 6;
const STEPS = 200;
/** How much later a slow run starts each slice of a shared window (real time). */
const SLOW_MS = 2;

/** What the window and the budgets decided, in order, for the run under way. */
let trace: string[] = [];
let slow = false;

function busyWait(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // a slower machine
  }
}

/** Records each decision; none of it reads a slice clock (the run's clock counts its readings). */
const windowProto: TurnWindow = TurnWindow.prototype;
const budgetProto: SliceBudget = SliceBudget.prototype;
const originals = {
  deadline: windowProto.deadline,
  chargeFrom: windowProto.chargeFrom,
  charge: windowProto.charge,
  spent: budgetProto.spent,
};

function traced(): void {
  windowProto.deadline = function (this: TurnWindow, now: number, ms: number): number {
    if (slow) busyWait(SLOW_MS);
    const deadline = originals.deadline.call(this, now, ms);
    trace.push(`deadline ${now} ${ms} -> ${deadline}`);
    return deadline;
  };
  windowProto.chargeFrom = function (this: TurnWindow, now: MonotonicNow): number | null {
    const started = originals.chargeFrom.call(this, now);
    trace.push(`charge from ${started}`);
    return started;
  };
  windowProto.charge = function (
    this: TurnWindow,
    started: number | null,
    now: MonotonicNow,
  ): void {
    originals.charge.call(this, started, now);
    trace.push(`charged ${started}`);
  };
  budgetProto.spent = function (this: SliceBudget): boolean {
    const spent = originals.spent.call(this);
    trace.push(`spent ${spent}`);
    return spent;
  };
}

function untraced(): void {
  windowProto.deadline = originals.deadline;
  windowProto.chargeFrom = originals.chargeFrom;
  windowProto.charge = originals.charge;
  budgetProto.spent = originals.spent;
}

async function traceOf(seed: number, slowly: boolean): Promise<string[]> {
  trace = [];
  slow = slowly;
  try {
    await runSimulation({ seed, steps: STEPS });
    return trace;
  } finally {
    slow = false;
    trace = [];
  }
}

/** Where `a` and `b` first differ, with a few entries around it. */
function firstDifference(a: readonly string[], b: readonly string[]): string {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  const around = (t: readonly string[]): string => t.slice(Math.max(0, i - 2), i + 3).join(" | ");
  return `entry ${i} of ${a.length}/${b.length}: ${around(a)}\nagainst ${around(b)}`;
}

describe("simulation slices", { timeout: 180_000 }, () => {
  before(traced);
  after(untraced);

  for (const seed of seedsToRun(SEEDS, 0x511c)) {
    it(`seed ${seed}: a slower second run of ${STEPS} steps ends every slice where the first did`, async () => {
      const first = await traceOf(seed, false);
      const second = await traceOf(seed, true);
      assert.ok(
        first.some((entry) => entry.startsWith("deadline")),
        `seed ${seed}: no slice took its deadline from the turn window`,
      );
      assert.ok(
        first.length === second.length && first.every((entry, i) => entry === second[i]),
        `seed ${seed}: the slices differ (rerun with TAQUBA_SEED=${seed}) at ${firstDifference(first, second)}`,
      );
    });
  }
});
