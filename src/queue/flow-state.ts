/**
 * Flows in the state, for `apply`: a parent job waits — kept as scheduled at
 * {@link WAITING_AT}, flagged `WaitingChildren`, so nothing claims or
 * promotes it — until each of its children ended. Its children and their
 * results live in the parent's extras (`flow`), each child names its parent
 * (`flowParent`), so checkpoints carry flows with the rest of the table.
 *
 * A child that is acked ends with its result (copied to the parent, which
 * keeps it however long the child itself is kept); one that is cancelled
 * ends without one; once none is left the parent becomes pending. A child's
 * end writes its entry in place, in O(1) (`flow-list.ts`), so ending every
 * child of a large flow costs O(children), not O(children²).
 * A child that goes dead, or is removed (`removeJob`, `removeJobs`), makes a
 * waiting parent dead at once, its lastError naming the child (and, for a
 * dead one, its failure, cut to `MAX_MESSAGE_BYTES`). A child
 * removed before it ended keeps a `removed` entry: its parent never runs
 * without it (`removedChild`), whether it was waiting or dead already. A dead child
 * stays linked to its parent (so requeueing either brings the flow back,
 * `flow-admin.ts`); a removed job unlinks the children that still name it.
 * `cancelTree` decides the records that cancel a waiting parent with its
 * children (for `Queue.cancel` and `tx.cancel` alike).
 */
import { asFlowList, FlowList, writable } from "./flow-list.js";
import { MAX_MESSAGE_BYTES } from "./limits.js";
import type { NewChildren } from "./new-children.js";
import { place, releaseDedup, unindex, withExtras } from "./placement.js";
import type { CancelRecord, CancelRequestRecord } from "./records/job.js";
import { Tag } from "./records/tags.js";
import { type State, Status } from "./state.js";
import { Flag, type FlowChild, holdsNothing, type JobExtras, slot } from "./table.js";
import { truncateUtf8 } from "./validate.js";

/** The `at` of a waiting parent: past every storable time, so promotion never reaches it. */
export const WAITING_AT = Number.MAX_SAFE_INTEGER;

/**
 * Drops job `h`'s link to its flow parent (`extras` are its extras, which
 * name one): a child whose extras hold nothing else (most, and the object
 * its siblings share) has them cleared, with no copy made per child.
 */
function unlinkFromParent(state: State, h: number, extras: JobExtras): void {
  if (holdsNothing(extras, true)) state.table.setExtras(h, undefined);
  else withExtras(state, h, { flowParent: undefined });
}

/** Whether job `h` is a flow parent still waiting for children. */
export function isWaitingParent(state: State, h: number): boolean {
  return (state.table.read(h).flags[slot(h)]! & Flag.WaitingChildren) !== 0;
}

/** Places new job `h` as a parent waiting for the children that follow it. */
export function placeWaitingParent(state: State, h: number): void {
  state.table.write(h).flags[slot(h)]! |= Flag.WaitingChildren;
  withExtras(state, h, { flow: { waiting: 0, children: [] } });
  place(state, h, Status.Scheduled, WAITING_AT);
}

/**
 * Registers the children gathered in `added` with their parents and
 * forgets them (the parents' rows and shared extras stay for the rest of
 * the transaction).
 */
export function addNewChildren(state: State, added: NewChildren): void {
  if (added.byParent.size === 0) return;
  for (const [parentId, { children, rows }] of added.byParent) {
    const row = added.parentRows.get(parentId);
    addChildren(
      state,
      row === undefined ? state.find(parentId) : state.findGuessed(parentId, row),
      children,
      rows,
    );
  }
  added.byParent.clear();
}

/**
 * Appends `children` (new entries, which the parent's list takes over) to
 * waiting parent `parent`'s list (one copy of it, whatever their number),
 * noting each new child's row (`rows`): removing the parent then finds its
 * children without probing the id index (`unlinkChildren`).
 */
export function addChildren(
  state: State,
  parent: number,
  children: FlowChild[],
  rows: readonly number[],
): void {
  const flow = state.table.extras(parent)!.flow!;
  const before = flow.children.length;
  const list = before === 0 ? children : flow.children.concat(children);
  const rowOf = new Int32Array(before + children.length).fill(-1, 0, before);
  for (let k = 0; k < rows.length; k++) rowOf[before + k] = rows[k]!;
  const table = state.table;
  withExtras(state, parent, {
    flow: new FlowList(flow.waiting + children.length, list, table.generation, null, rowOf),
  });
}

/** The parent log id of a child enqueue that cannot be added, or why; `null` when it fits. */
export function flowParentProblem(state: State, parentId: string): string | null {
  const parent = state.find(parentId);
  if (parent === -1) return `no parent ${parentId}`;
  if (!isWaitingParent(state, parent)) return `parent ${parentId} is not waiting for children`;
  return null;
}

/** How a flow child ended, for {@link childEnded}. */
export type ChildOutcome =
  | { kind: "done"; result: Uint8Array | undefined }
  | { kind: "dead"; reason: string; at: number }
  /** Cancelled: the parent goes on without it. */
  | { kind: "cancelled" }
  /** Removed by an operator (`Remove`): a waiting parent goes dead at `at`. */
  | { kind: "removed"; at: number };

/**
 * The lastError of a waiting parent that child `childId` makes dead: it
 * failed with `reason`, or (`null`) was removed. Cut to
 * `MAX_MESSAGE_BYTES` as a handler's error is: each level names its child
 * and repeats the failure below it, so a deep flow's messages would
 * otherwise grow by a level each, O(depth²) bytes in all.
 */
export function flowDeathReason(childId: string, reason: string | null): string {
  if (reason === null) return `child ${childId} was removed`;
  return truncateUtf8(`child ${childId} failed: ${reason}`, MAX_MESSAGE_BYTES);
}

/**
 * Child `h` ended: done (with its result, if any), dead (with `reason`, at
 * `at`), cancelled or removed. Tells its parent, which may become pending or
 * dead. A dead child keeps its link (its parent's entry is ended); a child
 * whose entry ended already (a dead one now removed) only loses the link.
 */
export function childEnded(state: State, h: number, outcome: ChildOutcome): void {
  const extras = state.table.extras(h);
  const parentId = extras?.flowParent;
  if (parentId === undefined) return;
  if (outcome.kind !== "dead") unlinkFromParent(state, h, extras!);
  const parent = state.find(parentId);
  const flow = parent === -1 ? undefined : state.table.extras(parent)?.flow;
  if (flow === undefined) return;
  const found = asFlowList(state.table, flow);
  const i = found.indexOf(state.idOf(h));
  const child = i === -1 ? undefined : found.children[i]!;
  if (child === undefined || child.ended) {
    // Its entry ended before (it went dead earlier); keep the list found by id.
    if (found !== flow) withExtras(state, parent, { flow: found });
    return;
  }
  const list = writable(state.table, found);
  const publicId = child.publicId;
  const result = outcome.kind === "done" ? outcome.result : undefined;
  list.children[i] =
    outcome.kind === "removed"
      ? { id: child.id, publicId, ended: true, removed: true }
      : result === undefined
        ? { id: child.id, publicId, ended: true }
        : { id: child.id, publicId, ended: true, result: Buffer.from(result) };
  list.waiting--;
  const waiting = list.waiting;
  // A list written in place is the parent's already; a new one replaces it (once per checkpoint).
  if (list !== flow) withExtras(state, parent, { flow: list });
  if (!isWaitingParent(state, parent)) {
    // A parent dead already (another child failed) now lacks this input too:
    // its lastError says so, and the mark keeps its flow from being requeued.
    if (outcome.kind === "removed" && state.statusOf(parent) === Status.Dead)
      withExtras(state, parent, { lastError: `child ${publicId} was removed` });
    return;
  }
  if (outcome.kind === "dead" || outcome.kind === "removed") {
    const reason = flowDeathReason(publicId, outcome.kind === "dead" ? outcome.reason : null);
    unindex(state, parent);
    releaseDedup(state, parent);
    state.table.write(parent).flags[slot(parent)]! &= ~Flag.WaitingChildren;
    withExtras(state, parent, { lastError: reason });
    place(state, parent, Status.Dead, outcome.at);
    // A dead parent's end reaches its own parent too.
    childEnded(state, parent, { kind: "dead", reason, at: outcome.at });
    return;
  }
  if (waiting > 0) return;
  unindex(state, parent);
  state.table.write(parent).flags[slot(parent)]! &= ~Flag.WaitingChildren;
  place(state, parent, Status.Pending, 0);
  state.flowWoken.add(state.queueOf(parent).name);
}

/**
 * Job `h` is being removed: the children that still name it as their
 * parent (dead ones, or ones a dead or done parent no longer waits for)
 * lose the link, so no job is left pointing at a missing one.
 *
 * A child whose row is known (a list made when its children were added)
 * is looked at in that row, without parsing its id: a job keeps its row
 * while it lives, so the row holds the child, or the child is gone (then
 * the row is free, without extras, or holds another job, which names `h`
 * only if it is a child of `h` too, to unlink as well). Rows are noted only
 * in the process that applied the enqueues and never pass into a checkpoint,
 * so a list decoded from one (every flow after a restart), or one whose
 * parent was given more children later, finds its children by id: the
 * state after the removal is the same either way.
 */
export function unlinkChildren(state: State, h: number): void {
  const flow = state.table.extras(h)?.flow;
  if (flow === undefined) return;
  const id = state.idOf(h);
  const list = flow instanceof FlowList ? flow : null;
  const children = flow.children;
  const table = state.table;
  /** Extras found to hold only the link (the object children of one flow share), or null. */
  let onlyLink: JobExtras | null = null;
  for (let i = 0; i < children.length; i++) {
    const guess = list === null ? -1 : list.rowGuess(i);
    const c = guess === -1 ? state.find(children[i]!.id) : guess;
    if (c === -1) continue;
    const extras = table.extras(c);
    if (extras === undefined || extras.flowParent !== id) continue;
    // Shared extras are checked once, not once per child (10,000 in one turn, for a flow).
    if (extras === onlyLink) table.setExtras(c, undefined);
    else {
      if (holdsNothing(extras, true)) onlyLink = extras;
      unlinkFromParent(state, c, extras);
    }
  }
}

/**
 * The records that cancel waiting parent `h` and, below it, every child that
 * has not ended: the parent first (so no child's end wakes it), then
 * pending and scheduled children removed (cancelled at `at`), claimed ones
 * flagged. Handles of claimed children to abort come back too.
 */
export function cancelTree(
  state: State,
  h: number,
  at: number,
): { records: (CancelRecord | CancelRequestRecord)[]; claimed: number[] } {
  const records: (CancelRecord | CancelRequestRecord)[] = [
    { tag: Tag.Cancel, id: state.idOf(h), at },
  ];
  const claimed: number[] = [];
  const visit = (parent: number): void => {
    for (const child of state.table.extras(parent)?.flow?.children ?? []) {
      if (child.ended) continue;
      const c = state.find(child.id);
      if (c === -1) continue;
      const status = state.statusOf(c);
      if (status === Status.Claimed) {
        records.push({ tag: Tag.CancelRequest, id: child.id });
        claimed.push(c);
      } else if (status === Status.Pending || status === Status.Scheduled) {
        records.push({ tag: Tag.Cancel, id: child.id, at });
        if (isWaitingParent(state, c)) visit(c);
      }
    }
  };
  visit(h);
  return { records, claimed };
}

/**
 * Dead job `h` is requeued on its own account (`RequeueDead`): a child
 * rejoins the flow of a parent that is dead or waiting (its entry open
 * again, waited for once more), else loses its link.
 */
export function rejoinFlow(state: State, h: number): void {
  const parentId = state.table.extras(h)?.flowParent;
  if (parentId === undefined) return;
  const parent = state.find(parentId);
  const flow = parent === -1 ? undefined : state.table.extras(parent)?.flow;
  const childId = state.idOf(h);
  const entry = flow?.children.find((c) => c.id === childId);
  const status = parent === -1 ? null : state.statusOf(parent);
  if (
    flow === undefined ||
    entry?.ended !== true ||
    (status !== Status.Dead && !isWaitingParent(state, parent))
  ) {
    withExtras(state, h, { flowParent: undefined });
    return;
  }
  const children = flow.children.map(
    (c): FlowChild => (c === entry ? { id: c.id, publicId: c.publicId, ended: false } : c),
  );
  withExtras(state, parent, { flow: { waiting: flow.waiting + 1, children } });
}

/**
 * Dead parent `h` is requeued: its dead children (still linked to it) are
 * waited for again — their entries opened in one copy of its list, however
 * many — and returned, for the caller to requeue the same way.
 */
export function reopenDeadChildren(state: State, h: number): number[] {
  const flow = state.table.extras(h)?.flow;
  const dead: number[] = [];
  if (flow === undefined) return dead;
  const id = state.idOf(h);
  const children = flow.children.map((c): FlowChild => {
    if (!c.ended) return c;
    const child = state.find(c.id);
    if (
      child === -1 ||
      state.statusOf(child) !== Status.Dead ||
      state.table.extras(child)?.flowParent !== id
    )
      return c;
    dead.push(child);
    return { id: c.id, publicId: c.publicId, ended: false };
  });
  if (dead.length > 0)
    withExtras(state, h, { flow: { waiting: flow.waiting + dead.length, children } });
  return dead;
}

/**
 * The public id of a child of `h` that was removed before it ended, or
 * `null`: such a parent can never get all its inputs, so its flow is not
 * requeued (`flow-admin.ts`).
 */
export function removedChild(state: State, h: number): string | null {
  for (const child of state.table.extras(h)?.flow?.children ?? [])
    if (child.removed === true) return child.publicId;
  return null;
}

/**
 * Requeued parent `h` forgets its removed children: only a log written
 * before the mark existed requeues such a parent, which then ran without
 * them, and so does a replay of it.
 */
export function forgetRemovedChildren(state: State, h: number): void {
  const flow = state.table.extras(h)?.flow;
  if (flow === undefined || !flow.children.some((c) => c.removed === true)) return;
  const children = flow.children.map(
    (c): FlowChild => (c.removed === true ? { id: c.id, publicId: c.publicId, ended: true } : c),
  );
  withExtras(state, h, { flow: { waiting: flow.waiting, children } });
}

/** Places requeued job `h`: waiting for its children while any is open, else pending. */
export function placeRequeued(state: State, h: number): void {
  if ((state.table.extras(h)?.flow?.waiting ?? 0) === 0) {
    place(state, h, Status.Pending, 0);
    return;
  }
  state.table.write(h).flags[slot(h)]! |= Flag.WaitingChildren;
  place(state, h, Status.Scheduled, WAITING_AT);
}
