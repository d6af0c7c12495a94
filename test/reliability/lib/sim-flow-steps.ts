/**
 * The simulation's flow steps as its step mix calls them: a flow, a wide
 * one, one whose commit write is in flight when its process dies, and the
 * ones every seed takes once; and the freeze a wide flow runs beside.
 */
import { ORPHAN_MIN_AGE_MS } from "../../../src/queue/payloads.js";
import { BIG_PAYLOAD, PATH, QUEUES, quiesce, restart, type World } from "./sim.js";
import { doubtfulFlowStep } from "./sim-flow-doubt.js";
import { type FlowSetting, flowStep } from "./sim-flows.js";

export function flowSetting(w: World): FlowSetting {
  return { queues: QUEUES, path: PATH, bigPayload: BIG_PAYLOAD, freeze: () => freeze(w) };
}

export function doubtfulFlow(w: World, landed: boolean): Promise<void> {
  const setting = {
    ...flowSetting(w),
    quiesce: () => quiesce(w),
    crash: () => restart(w, "crash"),
  };
  return doubtfulFlowStep(w, setting, landed);
}

/**
 * Flow steps every seed takes once, at steps drawn from the seed (so the
 * random stream is untouched): a flow whose commit write fails in doubt
 * after it landed, one whose commit write fails before, and a wide flow.
 */
export function forcedFlowStep(seed: number, step: number): ((w: World) => Promise<void>) | null {
  if (step === 10 + (seed % 40)) return (w) => doubtfulFlow(w, true);
  if (step === 60 + ((seed >>> 6) % 40)) return (w) => doubtfulFlow(w, false);
  if (step === 110 + ((seed >>> 12) % 40)) return (w) => flowStep(w, flowSetting(w), true);
  return null;
}

/**
 * The process stands still (a VM paused, a long stop of the world) for
 * longer than the orphans' minimum age, then goes on: every timer due
 * fires at once. Objects written before, by calls still in flight (a flow
 * prepared in slices, say), are old enough to collect now, and an orphan
 * pass that was due runs beside those calls: it must spare what they hold.
 */
export function freeze(w: World): Promise<void> {
  w.report.freezes++;
  w.clock.advance(ORPHAN_MIN_AGE_MS + w.int(60_000));
  return w.pass(w.int(20));
}
