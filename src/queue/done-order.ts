/**
 * Kept done jobs live in two completion-ordered indexes of their queue:
 * those without a result and those holding one (see `QueueState`). Which
 * one a job is in follows from its row alone (a result is set by its ack and
 * never changes while it is done), so `apply`, a restore and the readers all
 * agree without storing the split. This file owns that rule and the merge of
 * the two into the one completion order that listings, checkpoints and the
 * retention sweep of earlier releases' records see.
 */
import type { HandleIndex } from "./handle-index.js";
import type { QueueState } from "./queue-state.js";
import type { State } from "./state.js";

/** Whether done job `h` holds a result (and so sits in `doneWithResult`). */
export function holdsResult(state: State, h: number): boolean {
  return state.table.extras(h)?.result !== undefined;
}

/** The done index of `qs` that done job `h` belongs in. */
export function doneIndexOf(state: State, qs: QueueState, h: number): HandleIndex {
  return holdsResult(state, h) ? qs.doneWithResult : qs.doneNoResult;
}

/** The done job of `qs` that completed first (both kinds), or -1 when none is kept. */
export function oldestDone(state: State, qs: QueueState): number {
  const a = qs.doneNoResult.min();
  const b = qs.doneWithResult.min();
  if (a === -1) return b;
  if (b === -1) return a;
  return state.orders.byTime(a, b) < 0 ? a : b;
}
