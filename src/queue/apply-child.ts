/**
 * `apply` of a transaction's plain flow children (`apply-tx.ts`): the state
 * `enqueue` (`apply-enqueue.ts`) leaves for them, made by a function of its
 * own, with the same row fill (`fillRow`), a run of one parent's children
 * at a time. A flow's children are the first enqueues of a process to take
 * a flow child's branches; through `enqueue`, which a process's plain
 * enqueues keep optimized for jobs without a parent, they sent it and what
 * it inlines back to unoptimized code for much of the flow's commit.
 */
import { type CheckedId, fillRow } from "./apply-enqueue.js";
import { groupOf } from "./groups.js";
import type { NewChildren } from "./new-children.js";
import type { EnqueueRecord } from "./records/enqueue.js";
import type { TransactionOp } from "./records/transaction.js";
import { type State, Status } from "./state.js";
import { extrasColumn, ID_BYTES, slot } from "./table.js";

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
 * Applies the plain flow children ({@link isPlainChild}) from `ops[from]`
 * (up to `to`) that name the parent and the queue of the first, the first
 * of which is the transaction's enqueue number `first`; returns the end of
 * that run (`from` when `ops[from]` is no plain child). Each is applied as
 * an enqueue would apply it, in order, with what is the same for all of them
 * (the queue, the extras they share, the parent's list of new children)
 * looked up once. A flow's commit applies 10,000 of these in one turn,
 * before its code is optimized: one loop of few calls, rather than a call
 * per child that looks each of those up again. `checked.payloadSegment` holds for all of them
 * (their payloads lie side by side from `ops[from]`'s, each at `payloadBase +
 * payload.byteOffset`; or -1: each is written on its own).
 */
export function enqueueChildren(
  state: State,
  ops: readonly TransactionOp[],
  from: number,
  to: number,
  first: number,
  checked: CheckedId,
  children: NewChildren,
  freshIds: Uint8Array,
  payloadBase: number,
): number {
  const head = ops[from] as EnqueueRecord;
  if (!isPlainChild(head)) return from;
  const parentId = head.flowParent!;
  const queueName = head.queue;
  const qs = state.queue(queueName);
  qs.heldJob = true;
  const queue = qs.index;
  const extras = children.extrasNaming(parentId);
  const of = children.listOf(parentId);
  const table = state.table;
  const ids = state.ids;
  const pending = qs.pending;
  const idBytes = checked.bytes;
  const inRun = checked.payloadSegment >= 0;
  let k = from;
  for (let n = first; k < to; k++, n++) {
    const rec = ops[k] as EnqueueRecord;
    if (k > from && (rec.flowParent !== parentId || rec.queue !== queueName || !isPlainChild(rec)))
      break;
    if (inRun) checked.payloadOffset = payloadBase + rec.payload.byteOffset;
    const h = fillRow(state, rec, queue, idBytes, n * ID_BYTES, checked);
    // Writable: `fillRow` wrote the row.
    const page = table.read(h);
    const i = slot(h);
    page.extras ??= extrasColumn();
    page.extras[i] = extras;
    if (freshIds[n] === 1) ids.addNew(h);
    else ids.add(h);
    of.children.push({ id: rec.id, publicId: rec.id, ended: false });
    of.rows.push(h);
    // As `place` puts a new pending job without a group key.
    page.status[i] = Status.Pending;
    page.at[i] = 0;
    pending.insert(h);
    if (qs.groups !== null) qs.groups.addPending(groupOf(state, h), h);
  }
  return k;
}
