/**
 * `apply` of a transaction's plain flow child (`apply-tx.ts`): the state
 * `enqueue` (`apply-enqueue.ts`) leaves for it, made by a function of its
 * own. A flow's children are the first enqueues of a process to take a flow
 * child's branches; through `enqueue`, which a process's plain enqueues keep
 * optimized for jobs without a parent, they sent it and what it inlines back
 * to unoptimized code for much of the flow's commit.
 */
import type { CheckedId } from "./apply-enqueue.js";
import type { NewChildren } from "./new-children.js";
import { place } from "./placement.js";
import { DecodedEnqueue, type EnqueueRecord } from "./records/enqueue.js";
import { type State, Status } from "./state.js";
import { ID_BYTES, slot } from "./table.js";

/**
 * Whether `rec` is a plain flow child: a live record (not decoded: a
 * replay's records keep to `enqueue`) with a parent, pending at once, and
 * no extras of its own beyond that parent, and no trace context.
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
    rec.trace === undefined &&
    !(rec instanceof DecodedEnqueue)
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
  const table = state.table;
  const h = table.allocate();
  const page = table.write(h);
  const i = slot(h);
  const id = page.id;
  const at = i * ID_BYTES;
  const idBytes = checked.bytes;
  const idAt = checked.at;
  for (let k = 0; k < ID_BYTES; k++) id[at + k] = idBytes[idAt + k]!;
  page.flags[i] = 0;
  page.queue[i] = qs.index;
  page.attempts[i] = 0;
  page.maxAttempts[i] = rec.maxAttempts;
  page.priority[i] = rec.priority;
  page.enqueuedAt[i] = rec.enqueuedAt;
  page.seq[i] = state.nextSeq++;
  const payload = rec.payload;
  if (checked.payloadSegment >= 0) {
    page.payloadSegment[i] = checked.payloadSegment;
    page.payloadOffset[i] = checked.payloadOffset;
  } else {
    page.payloadSegment[i] = state.arena.write(payload);
    page.payloadOffset[i] = state.arena.offset;
  }
  page.payloadLength[i] = payload.byteLength;
  table.putExtras(h, children.extrasNaming(parentId));
  if (checked.newest) state.ids.addNew(h);
  else state.ids.add(h);
  children.add(parentId, h, rec.id, rec.id);
  place(state, h, Status.Pending, 0, false);
}
