import type { State } from "./state.js";

/**
 * Key of the queue's internal inspection hook: `queue[INSPECT_STATE]()`
 * returns its live in-memory state. For tests that audit invariants (every
 * job in exactly one index, counters equal a recount); not part of the public
 * API and not exported from the package.
 */
export const INSPECT_STATE: unique symbol = Symbol("taquba.inspectState");

/** A queue that exposes its state to tests through {@link INSPECT_STATE}. */
export interface InspectableQueue {
  [INSPECT_STATE](): State;
}
