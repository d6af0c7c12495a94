/**
 * The caller's `jobId`s of flows called but not committed yet. A big flow
 * is checked and encoded over several turns of the event loop before the
 * turn that commits it; its `jobId`s are held here from the call on, so a
 * job id goes to the earlier call: an `enqueue`, `enqueueMany` or
 * transaction made meanwhile finds the id taken (as if the flow had
 * committed), and so does a later flow. A flow that fails lets its ids go.
 */
import type { State } from "./state.js";

export class PendingFlowJobIds {
  /** Each held id, with the flow (its token) holding it. */
  readonly #holders = new Map<string, object>();

  /** Whether a flow not committed yet holds `jobId`. */
  has(jobId: string): boolean {
    return this.#holders.has(jobId);
  }

  /**
   * Holds `jobIds` for the flow `owner` (from its call's own turn); returns
   * the ones it cannot have, as a job of `state` or another flow holds them.
   */
  hold(owner: object, jobIds: readonly string[], state: State): Set<string> {
    const lost = new Set<string>();
    for (const jobId of jobIds) {
      const holder = this.#holders.get(jobId);
      if (holder === owner) continue;
      if (holder !== undefined || state.findPublic(jobId) !== -1) lost.add(jobId);
      else this.#holders.set(jobId, owner);
    }
    return lost;
  }

  /** Lets go of the ids of `jobIds` that `owner` holds (its flow committed or failed). */
  release(owner: object, jobIds: readonly string[]): void {
    for (const jobId of jobIds) if (this.#holders.get(jobId) === owner) this.#holders.delete(jobId);
  }
}
