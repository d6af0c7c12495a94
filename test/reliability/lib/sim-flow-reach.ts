/**
 * What the simulation knows of a flow's jobs in its flow: whether a parent
 * handed out has its children ended, and what a removal or a requeue from
 * dead of one job reaches (the README's "Removing and requeueing a flow's
 * jobs").
 */
import { type State, Status } from "../../../src/queue/state.js";
import { rowOf, STATUS_NAMES } from "../../queue/state-rows.js";
import { liveState } from "./audit.js";
import type { World } from "./sim.js";

/**
 * A flow parent was handed out: each of its children has ended (done, or
 * gone: acked, cancelled, removed). A dead child would have made it dead,
 * unless a requeue from dead brought either back.
 */
export function parentReady(w: World, id: string): string[] {
  const children = w.model.flows.children.get(id);
  if (children === undefined || w.model.requeueAttempted.has(id)) return [];
  const state = liveState(w.queue!);
  const problems: string[] = [];
  for (const child of children) {
    const h = state.findPublic(child);
    if (h === -1 || w.model.requeueAttempted.has(child)) continue;
    const status = rowOf(state, h).status;
    if (status !== Status.Done)
      problems.push(
        `flow parent ${id} was handed out while its child ${child} is ${STATUS_NAMES[status]}`,
      );
  }
  return problems;
}

/**
 * The jobs under `h` in its flow, at every depth, by handle (not `h`
 * itself); with `open`, only through children that have not ended.
 */
function below(state: State, h: number, open = false): number[] {
  const all = [h];
  for (let i = 0; i < all.length; i++)
    for (const child of rowOf(state, all[i]!).flow?.children ?? []) {
      const c = state.findPublic(child.publicId);
      if (c !== -1 && !child.removed && !(open && child.ended)) all.push(c);
    }
  return all.slice(1);
}

/** Every job of `h`'s flow (from its root down), by handle; just `h` outside a flow. */
function flowHandles(state: State, h: number): number[] {
  let root = h;
  for (;;) {
    const parent = rowOf(state, root).flowParent;
    const p = parent === undefined ? -1 : state.find(parent);
    if (p === -1) break;
    root = p;
  }
  return [root, ...below(state, root)];
}

/** Jobs a removal of their flow parent removes (a claimed one is flagged for cancellation instead). */
const REMOVABLE: ReadonlySet<number> = new Set([Status.Pending, Status.Scheduled]);

/** What a call on some jobs acts on: the public ids it may change, the jobs it counts. */
export interface Reach {
  touched: string[];
  counted: Set<number>;
}

/**
 * What a removal of job `id` (a cancel, or a removal by status) reaches in
 * the state as it is: the job and every job under it in its flow (what the
 * model must expect nothing of), counting the job and those under it,
 * through children that have not ended, that are pending or scheduled (what it removes: a claimed one is flagged for
 * cancellation, and ends as a cancel's would).
 */
export function removalOf(state: State, id: string): Reach {
  const h = state.findPublic(id);
  if (h === -1) return { touched: [id], counted: new Set() };
  const open = below(state, h, true);
  return {
    touched: [id, ...below(state, h).map((each) => state.publicIdOf(each))],
    counted: new Set([h, ...open.filter((each) => REMOVABLE.has(rowOf(state, each).status))]),
  };
}

/**
 * What a requeue of the dead job `id` reaches: its whole flow (touched, to
 * be safe), counting the dead part of the flow it is in: up through its
 * dead parents to the topmost, and down from there through every dead child
 * still linked to its dead parent; none when a parent in that part had a
 * child removed before it ended (it stays dead: `requeueDeadJob` refuses it).
 */
export function requeueOf(state: State, id: string): Reach {
  const h = state.findPublic(id);
  if (h === -1) return { touched: [id], counted: new Set() };
  const touched = [id, ...flowHandles(state, h).map((each) => state.publicIdOf(each))];
  let top = h;
  for (;;) {
    const parent = rowOf(state, top).flowParent;
    const p = parent === undefined ? -1 : state.find(parent);
    if (p === -1 || rowOf(state, p).status !== Status.Dead) break;
    top = p;
  }
  const counted = new Set<number>();
  let refused = false;
  const visit = (job: number): void => {
    counted.add(job);
    const row = rowOf(state, job);
    for (const child of row.flow?.children ?? []) {
      refused ||= child.removed;
      const c = child.ended ? state.find(child.id) : -1;
      if (c === -1) continue;
      const childRow = rowOf(state, c);
      if (childRow.status === Status.Dead && childRow.flowParent === state.idOf(job)) visit(c);
    }
  };
  visit(top);
  return { touched, counted: refused ? new Set() : counted };
}
