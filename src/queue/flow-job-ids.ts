/**
 * The caller's `jobId`s of calls made but not settled yet (committed or
 * failed) that decide them after their own call returned. A big flow is
 * checked and encoded over several turns of the event loop before the turn
 * that commits it; an `enqueue`, `enqueueMany` or transaction may first
 * write its offloaded payloads, or wait for the log to take writes. Their
 * `jobId`s are held here from the call on, so that a job id goes to the
 * earlier call. (A call that decides within its own call holds nothing:
 * no later call can come first.)
 *
 * A hold never answers for its call: whether it will commit is not known
 * until it settled, and a call that fails (a bad argument found in a later
 * slice of a flow, a payload write failing, `close()`, a fence) adds no job.
 * So a call made meanwhile with one of those ids — an `enqueue`,
 * `enqueueMany`, a transaction's `tx.enqueue`, a flow — waits for every call
 * holding it to settle, then decides against the state: taken if the
 * earlier call committed, free if it failed. While it waits it holds its own
 * ids the same way, so a call after it waits for it in turn: ids go in the
 * order of the calls.
 *
 * A flow lets go once its record is durable. An `enqueue`, `enqueueMany` or
 * transaction lets go once its decision is applied to the state (or it
 * failed), before its record is durable, so that calls waiting on one id do
 * not each wait for a log write in turn. So any call that finds an id taken
 * — having waited or not, at its call or later — answers
 * (`DuplicateJobIdError`, `created: false`) only once the log is durable up
 * to that moment (log writes are acknowledged in order), or with the log's
 * failure if it is not: the taking job may be applied but never durable.
 *
 * A call waits only for holds taken before its own, which settle without
 * waiting for any later call: waits cannot form a cycle.
 *
 * An `enqueue` or `enqueueMany` holds its dedup keys the same way (keyed
 * apart from job ids, see {@link dedupHoldKey}): a debounce whose payload is
 * written as an object first commits after its call returned, and a later
 * call with its key, which might commit at once, waits for it instead, so
 * the last debounce's payload wins.
 */
import type { State } from "./state.js";

/** The ids one call holds until it settles. */
export class JobIdHold {
  readonly ids: readonly string[];
  /** Resolves once the call let go of its ids (its decision applied or durable, or it failed). */
  readonly settled: Promise<void>;
  readonly #resolve: () => void;
  #released = false;

  constructor(ids: readonly string[]) {
    this.ids = ids;
    let resolve!: () => void;
    this.settled = new Promise((r) => {
      resolve = r;
    });
    this.#resolve = resolve;
  }

  /** Called by {@link PendingFlowJobIds.release}: `false` when it was already let go. */
  settle(): boolean {
    if (this.#released) return false;
    this.#released = true;
    this.#resolve();
    return true;
  }
}

/** A hold taken by a call, with the earlier holds of its ids to wait for (`undefined`: none). */
export interface TakenHold {
  readonly hold: JobIdHold;
  readonly earlier: Promise<void> | undefined;
}

/** The calls holding one id, and a promise that settles once all of them settled. */
interface Holders {
  readonly holds: Set<JobIdHold>;
  /**
   * Settles once every hold of this id taken so far settled: each hold
   * chains its own `settled` on the one before, so a new hold waits on one
   * promise per id, however many calls hold it (a producer retrying an id
   * while a big flow holds it may make thousands). Not just the last hold's
   * `settled`: a hold may settle before the holds it waited for (a flow
   * failing on a bad argument does not wait for them).
   */
  tail: Promise<unknown>;
}

export class PendingFlowJobIds {
  /** Each held id, with the calls holding it. */
  readonly #holders = new Map<string, Holders>();

  /** How many ids are held: 0 on the common path, where no call needs to look further. */
  get size(): number {
    return this.#holders.size;
  }

  /**
   * Holds the `jobIds` of a flow (from its call's own turn), after the
   * calls holding them already. `taken`: the ids a job of `state` has (not
   * held: the flow fails on them). `earlier`: settles once every earlier
   * call holding one of the others settled; the flow decides those only
   * then.
   */
  holdFlow(jobIds: readonly string[], state: State): TakenHold & { taken: Set<string> } {
    const taken = new Set<string>();
    const free: string[] = [];
    for (const jobId of jobIds) {
      if (state.findPublic(jobId) !== -1) taken.add(jobId);
      else free.push(jobId);
    }
    return { ...this.#hold(free), taken };
  }

  /**
   * For a call (`enqueue`, `enqueueMany`, a transaction) with caller ids
   * `jobIds`: `undefined` when no call holds any of them (the call decides
   * at once), else a hold of all of them taken now, and the earlier holds to
   * wait for before deciding. Release the hold once the call settled.
   */
  holdIfHeld(jobIds: readonly string[]): TakenHold | undefined {
    if (this.#holders.size === 0) return undefined;
    if (!jobIds.some((jobId) => this.#holders.has(jobId))) return undefined;
    return this.#hold(jobIds);
  }

  /**
   * Holds `jobIds` for a call that does not commit within its own call
   * (its payloads are written first, or the log does not take writes) and
   * that no earlier call holds them for (see {@link holdIfHeld}): a later
   * call with one of them waits for it. Release the hold once it settled.
   */
  hold(jobIds: readonly string[]): TakenHold {
    return this.#hold(jobIds);
  }

  /**
   * Lets go of the ids of `hold` and wakes the calls waiting for it: once
   * its call's decision is in the state (a later call then decides against
   * it), or once the call failed. A second release of a hold does nothing.
   */
  release(hold: JobIdHold): void {
    if (!hold.settle()) return;
    for (const jobId of hold.ids) {
      const holders = this.#holders.get(jobId);
      // No call holds it any more: the next call to hold it waits for none.
      if (holders?.holds.delete(hold) === true && holders.holds.size === 0)
        this.#holders.delete(jobId);
    }
  }

  /** O(1) per id: one tail to wait on, one chained on it (see {@link Holders.tail}). */
  #hold(jobIds: readonly string[]): TakenHold {
    const hold = new JobIdHold(jobIds);
    const earlier: Promise<unknown>[] = [];
    for (const jobId of jobIds) {
      const holders = this.#holders.get(jobId);
      if (holders === undefined) {
        this.#holders.set(jobId, { holds: new Set([hold]), tail: hold.settled });
        continue;
      }
      if (holders.holds.has(hold)) continue; // an id twice in one call
      earlier.push(holders.tail);
      holders.holds.add(hold);
      holders.tail = Promise.all([holders.tail, hold.settled]);
    }
    return { hold, earlier: waitAll(earlier) };
  }
}

/** Settles once all of `promises` did; `undefined` for none. */
function waitAll(promises: readonly Promise<unknown>[]): Promise<void> | undefined {
  if (promises.length === 0) return undefined;
  return (promises.length === 1 ? promises[0]! : Promise.all(promises)).then(noop);
}

function noop(): void {}

/**
 * What an enqueue call of checked jobs into `queue` holds (empty for most
 * calls): its caller's `jobId`s, and its dedup keys (see {@link dedupHoldKey}),
 * so that calls with one dedup key, debounces above all, decide in call order.
 */
export function heldKeysOf(
  queue: string,
  jobs: readonly { options: { jobId?: string | undefined; dedupKey?: string | undefined } }[],
): string[] {
  const keys: string[] = [];
  for (const { options } of jobs) {
    if (options.jobId !== undefined) keys.push(options.jobId);
    if (options.dedupKey !== undefined) keys.push(dedupHoldKey(queue, options.dedupKey));
  }
  return keys;
}

/**
 * The key a dedup key of `queue` is held under, next to job ids: never a
 * job id (those have no `:`), and one per (queue, dedup key).
 */
export function dedupHoldKey(queue: string, dedupKey: string): string {
  return `${queue.length}:${queue}:${dedupKey}`;
}
