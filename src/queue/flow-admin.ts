/**
 * The records that remove or requeue a job of a flow with the rest of its
 * flow that depends on it (for `removeJob`, `removeJobs`, `requeueDeadJob`
 * and `requeueDeadJobs`). A removal's records are committed together, as
 * one log batch, so they become durable, and replay, together; `apply` does
 * the linking (`flow-state.ts`).
 *
 * Removing a job removes its children that have not ended, at every depth
 * (claimed ones are flagged for cancellation, like a cancel's), the job
 * first so none of their ends reaches it. Requeueing a dead job of a flow
 * requeues the whole dead part of that flow: it goes up through the job's
 * dead parents (a child's death made them dead) and requeues the topmost
 * one, which `apply` carries down to every dead job below it, so each
 * parent waits again for its children. A flow whose dead part holds a parent
 * with a child removed before it ended is not requeued: that parent would
 * run without the removed child's input (`removedChild`).
 */
import type { QueueCore } from "./core.js";
import { FlowList } from "./flow-list.js";
import { removedChild } from "./flow-state.js";
import type { CancelRequestRecord, RemoveRecord, RequeueDeadRecord } from "./records/job.js";
import { Tag } from "./records/tags.js";
import { type State, Status } from "./state.js";
import { Flag, type FlowChildren, slot } from "./table.js";

/** What removing one job takes with it. */
export interface Removal {
  /** The records, the job's first. */
  readonly records: (RemoveRecord | CancelRequestRecord)[];
  /** The job each record names, in record order (hints for `apply`: `State.expect`). */
  readonly handles: number[];
  /** Jobs the records remove (the job and its open children). */
  readonly removed: number;
  /** Claimed children flagged for cancellation: their claims are to be aborted. */
  readonly claimed: number[];
}

/**
 * The record that removes job `h` itself at `at` (the first of its
 * removal's, and the only one for a job outside flows), `h` added to
 * `covered`. The time matters only when a waiting parent goes dead with
 * it: only a flow's job carries it.
 */
export function ownRemoveRecord(
  state: State,
  h: number,
  at: number,
  covered: Set<number>,
): RemoveRecord {
  covered.add(h);
  const id = state.idOf(h);
  return state.table.extras(h)?.flowParent !== undefined
    ? { tag: Tag.Remove, id, at }
    : { tag: Tag.Remove, id };
}

/**
 * The walk of {@link removalRecords}, in steps: a flow of 10,000 jobs is
 * walked in slices of the loop before the turn that commits its removal
 * (`removeJob`). Depth first, each child right after its parent, as the
 * records go.
 */
export class RemovalWalk implements Removal {
  readonly records: (RemoveRecord | CancelRequestRecord)[];
  readonly handles: number[];
  readonly claimed: number[] = [];
  removed = 1;
  readonly #state: State;
  readonly #covered: Set<number>;
  /** Children lists still being walked, innermost last, with the next position in each. */
  readonly #lists: FlowChildren[] = [];
  readonly #next: number[] = [];

  /** Removes job `h` (not claimed) at `at`; see {@link removalRecords} for `covered`. */
  constructor(state: State, h: number, at: number, covered: Set<number>) {
    this.#state = state;
    this.#covered = covered;
    this.records = [ownRemoveRecord(state, h, at, covered)];
    this.handles = [h];
    this.#enter(h);
  }

  #add(record: RemoveRecord | CancelRequestRecord, h: number): void {
    this.records.push(record);
    this.handles.push(h);
  }

  #enter(parent: number): void {
    const flow = this.#state.table.extras(parent)?.flow;
    if (flow === undefined || flow.children.length === 0) return;
    this.#lists.push(flow);
    this.#next.push(0);
  }

  /** Walks up to `max` more children; true once the walk is done. */
  step(max: number): boolean {
    const state = this.#state;
    const lists = this.#lists;
    const next = this.#next;
    let walked = 0;
    while (lists.length > 0) {
      const top = lists.length - 1;
      const flow = lists[top]!;
      const children = flow.children;
      const i = next[top]!;
      if (i === children.length) {
        lists.pop();
        next.pop();
        continue;
      }
      if (walked++ === max) return false;
      next[top] = i + 1;
      const child = children[i]!;
      if (child.ended) continue;
      const c =
        flow instanceof FlowList
          ? state.findGuessed(child.id, flow.rowGuess(i))
          : state.find(child.id);
      if (c === -1 || this.#covered.has(c)) continue;
      this.#covered.add(c);
      const status = state.statusOf(c);
      if (status === Status.Claimed) {
        if ((state.table.read(c).flags[slot(c)]! & Flag.CancelRequested) === 0)
          this.#add({ tag: Tag.CancelRequest, id: child.id }, c);
        this.claimed.push(c);
      } else if (status === Status.Pending || status === Status.Scheduled) {
        this.#add({ tag: Tag.Remove, id: child.id }, c);
        this.removed++;
        this.#enter(c);
      }
    }
    return true;
  }
}

/**
 * The records that remove job `h` (not claimed) at `at` with its children
 * that have not ended. Jobs in `covered` are left out (decided already by
 * another removal of the same commit); every job acted on is added to it.
 */
export function removalRecords(
  state: State,
  h: number,
  at: number,
  covered: Set<number> = new Set(),
): Removal {
  const walk = new RemovalWalk(state, h, at, covered);
  walk.step(Number.POSITIVE_INFINITY);
  return walk;
}

/** What requeueing one dead job takes with it. */
export interface Requeue {
  /**
   * The record: a `RequeueDead` of the topmost dead job of the flow
   * (`null`: decided already, or refused, see `refused`).
   */
  readonly record: RequeueDeadRecord | null;
  /** Every job it requeues (`apply` brings each dead parent's dead children with it). */
  readonly jobs: number[];
  /**
   * Why the flow cannot be requeued, when it cannot: a parent in its dead
   * part had a child removed before that child ended, so it would run on a
   * missing input. `null` when it can.
   */
  readonly refused: string | null;
  /** Public id of that removed child (`null` when not refused). */
  readonly removedChild: string | null;
}

/**
 * Whether job `h` has neither a flow parent nor flow children: removing or
 * requeueing it is its one record, with nothing to walk.
 */
export function outsideFlows(state: State, h: number): boolean {
  const extras = state.table.extras(h);
  return extras === undefined || (extras.flowParent === undefined && extras.flow === undefined);
}

/**
 * The record that requeues dead job `h` at `at` with the dead part of its
 * flow (see the file's comment), and the jobs that takes: the topmost dead
 * job, whose requeue `apply` carries down to every dead job below it. None
 * when that job is in `covered` (decided already by another requeue of the
 * same commit); every job requeued is added to it.
 */
export function requeueRecord(
  state: State,
  h: number,
  at: number,
  covered: Set<number> = new Set(),
): Requeue {
  if (outsideFlows(state, h)) {
    // No flow to walk: the record alone (no walk, and the id decoded once).
    if (covered.has(h)) return noRequeue();
    covered.add(h);
    return requeueFrom(state, h, at, [h]);
  }
  let top = h;
  for (;;) {
    const parentId = state.table.extras(top)?.flowParent;
    const parent = parentId === undefined ? -1 : state.find(parentId);
    if (parent === -1 || state.statusOf(parent) !== Status.Dead) break;
    top = parent;
  }
  const jobs: number[] = [];
  if (covered.has(top)) return noRequeue();
  let refused: string | null = null;
  let removedId: string | null = null;
  // As `apply` walks it: each dead child still linked to its dead parent.
  const visit = (job: number): void => {
    covered.add(job);
    jobs.push(job);
    const removed = removedChild(state, job);
    if (removed !== null && refused === null) {
      refused = `child ${removed} of job ${state.publicIdOf(job)} was removed`;
      removedId = removed;
    }
    const id = state.idOf(job);
    for (const child of state.table.extras(job)?.flow?.children ?? []) {
      if (!child.ended) continue;
      const c = state.find(child.id);
      if (c !== -1 && state.statusOf(c) === Status.Dead && state.table.extras(c)?.flowParent === id)
        visit(c);
    }
  };
  visit(top);
  if (refused !== null) return { record: null, jobs: [], refused, removedChild: removedId };
  return requeueFrom(state, top, at, jobs);
}

/** A requeue decided already by another of the same commit: nothing to write. */
function noRequeue(): Requeue {
  return { record: null, jobs: [], refused: null, removedChild: null };
}

/**
 * The requeue of `jobs` (a job outside flows alone, or the dead part of a
 * flow) by the record of their topmost dead job `top` at `at`: the one place
 * that record is built, for both.
 */
function requeueFrom(state: State, top: number, at: number, jobs: number[]): Requeue {
  return {
    record: { tag: Tag.RequeueDead, id: state.idOf(top), at },
    jobs,
    refused: null,
    removedChild: null,
  };
}

/** Aborts the claims of flow children removed with their parent (flagged for cancellation). */
export function abortRemovedClaims(core: QueueCore, claimed: readonly number[]): void {
  for (const c of claimed)
    core.leases
      .get(c)
      ?.abort(
        new Error(`job ${core.state.publicIdOf(c)} was cancelled: its flow parent was removed`),
      );
}
