/**
 * Fair groups within a queue (`EnqueueOptions.groupKey`): per group, its
 * pending jobs in claim order and how many of its jobs are claimed, and the
 * rotation of groups that have pending jobs. Claims take the group at the
 * head of the rotation and move it to the tail, so a group with a million
 * pending jobs delays another group's job by at most one turn of the
 * rotation. Jobs without a key form one group of their own, `""`.
 *
 * Derived state: kept up to date by `apply` (through `place` and `unindex`)
 * for queues that hold grouped jobs, never stored — a restore rebuilds it
 * from the pending and claimed jobs ({@link buildGroups}), in slices.
 */
import { HandleIndex, type HandleOrder } from "./handle-index.js";
import type { QueueState } from "./queue-state.js";
import type { State } from "./state.js";
import type { JobExtras } from "./table.js";

/** The group of jobs without a `groupKey` (a key is never empty). */
export const NO_GROUP = "";

export class Group {
  /** Pending jobs of the group, in claim order (priority, then enqueue order). */
  readonly pending: HandleIndex;
  /** Jobs of the group claimed right now. */
  claimed = 0;

  constructor(
    readonly key: string,
    order: HandleOrder,
    pending?: HandleIndex,
  ) {
    this.pending = pending ?? new HandleIndex(order);
  }
}

/** The groups of one queue. */
export class QueueGroups {
  readonly #order: HandleOrder;
  /** Every group with a pending or claimed job. */
  readonly byKey = new Map<string, Group>();
  /** Groups with pending jobs, in rotation order: the head is served next. */
  readonly rotation = new Map<string, Group>();

  constructor(order: HandleOrder) {
    this.#order = order;
  }

  #group(key: string): Group {
    let group = this.byKey.get(key);
    if (group === undefined) {
      group = new Group(key, this.#order);
      this.byKey.set(key, group);
    }
    return group;
  }

  #dropIfIdle(group: Group): void {
    if (group.pending.size === 0 && group.claimed === 0) this.byKey.delete(group.key);
  }

  /**
   * Takes in, as group `key` (of no group yet), `pending` (its pending jobs,
   * already in claim order) and `claimed` claimed jobs.
   */
  adopt(key: string, pending: HandleIndex, claimed: number): void {
    const group = new Group(key, this.#order, pending);
    group.claimed = claimed;
    if (pending.size === 0 && claimed === 0) return;
    this.byKey.set(key, group);
    if (pending.size > 0) this.rotation.set(key, group);
  }

  addPending(key: string, h: number): void {
    const group = this.#group(key);
    group.pending.insert(h);
    if (group.pending.size === 1) this.rotation.set(key, group);
  }

  removePending(key: string, h: number): void {
    const group = this.byKey.get(key);
    if (group === undefined || !group.pending.delete(h)) return;
    if (group.pending.size === 0) {
      this.rotation.delete(key);
      this.#dropIfIdle(group);
    }
  }

  addClaimed(key: string): void {
    this.#group(key).claimed++;
  }

  removeClaimed(key: string): void {
    const group = this.byKey.get(key);
    if (group === undefined || group.claimed === 0) return;
    group.claimed--;
    this.#dropIfIdle(group);
  }

  /** A job of group `key` was claimed: the group goes to the tail of the rotation. */
  served(key: string): void {
    const group = this.rotation.get(key);
    if (group === undefined) return;
    this.rotation.delete(key);
    this.rotation.set(key, group);
  }
}

/** Most distinct group keys whose key-only extras are shared (beyond it, each job has its own). */
const SHARED_GROUP_EXTRAS = 10_000;

/**
 * The extras of a job whose only extra is its group key: one frozen object
 * per key, shared by every such job (extras are replaced, never changed in
 * place), so a million jobs of one group cost no object each.
 */
export function groupOnlyExtras(state: State, key: string): JobExtras {
  let extras = state.groupExtras.get(key);
  if (extras === undefined) {
    extras = Object.freeze({ groupKey: key });
    if (state.groupExtras.size < SHARED_GROUP_EXTRAS) state.groupExtras.set(key, extras);
  }
  return extras;
}

/** The group key of job `h` (`""` for none). */
export function groupOf(state: State, h: number): string {
  return state.table.extras(h)?.groupKey ?? NO_GROUP;
}

/** Jobs looked at between two checks of the caller's budget. */
const PER_STEP = 4_096;

/**
 * Builds the groups of `qs` from its pending and claimed jobs, yielding
 * every few thousand jobs so the caller can spread the work over turns of
 * the event loop; sets `qs.groups` at the end.
 */
export function* buildGroups(state: State, qs: QueueState): Generator<void, void, void> {
  const groups = new QueueGroups(state.orders.byPriority);
  let n = 0;
  // In claim order, so each group's index only ever appends.
  const position = qs.pending.seek(() => false);
  for (let h = qs.pending.next(position); h !== -1; h = qs.pending.next(position)) {
    groups.addPending(groupOf(state, h), h);
    if (++n % PER_STEP === 0) yield;
  }
  for (const h of qs.claimed.toArray()) {
    groups.addClaimed(groupOf(state, h));
    if (++n % PER_STEP === 0) yield;
  }
  qs.groups = groups;
}

/**
 * The groups of `qs` when it gets its first grouped job (on the live path or
 * in replay): until then none of its pending or claimed jobs has a group key
 * (`apply` builds the groups as the first one arrives, a restore from the
 * jobs it holds), so they all form the group of no key. Its pending index is
 * a copy of the queue's (same order): a copy of chunks of small integers, not
 * one insert per job, so a queue holding a million jobs gets its groups in a
 * few milliseconds.
 */
export function groupUngrouped(state: State, qs: QueueState): void {
  const groups = new QueueGroups(state.orders.byPriority);
  groups.adopt(NO_GROUP, qs.pending.copy(state.orders.byPriority), qs.claimed.size);
  qs.groups = groups;
}
