/**
 * `apply` of a transaction's plain flow child (`apply-tx.ts`): the state
 * `enqueue` (`apply-enqueue.ts`) leaves for it, made by a function of its
 * own, with the same row fill (`fillRow`). A flow's children are the first enqueues of a process to take a flow
 * child's branches; through `enqueue`, which a process's plain enqueues keep
 * optimized for jobs without a parent, they sent it and what it inlines back
 * to unoptimized code for much of the flow's commit.
 */
import { type CheckedId, fillRow } from "./apply-enqueue.js";
import type { NewChildren } from "./new-children.js";
import { place } from "./placement.js";
import type { EnqueueRecord } from "./records/enqueue.js";
import { type State, Status } from "./state.js";

/**
 * Whether `rec` is a plain flow child: a parent, pending at once, no extras
 * of its own beyond that parent, and no trace context. Live or decoded alike:
 * a record takes the same path at replay as on the live path.
 */
export function isPlainChild(rec: EnqueueRecord): boolean {
  return (
    rec.flowParent !== undefined &&
    rec.runAt === undefined &&
    rec.waitsForChildren !== true &&
    rec.headers === undefined &&
    rec.dedupKey === undefined &&
    rec.jobId === undefined &&
    rec.timeoutMs === undefined &&
    rec.payloadRef === undefined &&
    rec.groupKey === undefined &&
    rec.trace === undefined
  );
}

/**
 * Applies plain flow child `rec` ({@link isPlainChild}) of a transaction,
 * checked with the rest of it (`checked`: what the check found of its id).
 */
export function enqueueChild(
  state: State,
  rec: EnqueueRecord,
  children: NewChildren,
  checked: CheckedId,
): void {
  const parentId = rec.flowParent!;
  const qs = state.queue(rec.queue);
  qs.heldJob = true;
  const h = fillRow(state, rec, qs.index, checked.bytes, checked.at, checked);
  const table = state.table;
  table.putExtras(h, children.extrasNaming(parentId));
  if (checked.newest) state.ids.addNew(h);
  else state.ids.add(h);
  children.add(parentId, h, rec.id, rec.id);
  place(state, h, Status.Pending, 0, false);
}
