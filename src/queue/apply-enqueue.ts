/**
 * `apply` of an enqueue record: the checks that it fits the state, and the
 * new job's row, indexes and flow link. Used by `apply` (an enqueue, a
 * schedule's fire) and by `apply-tx.ts` (the enqueues of a transaction).
 */
import { addChildren, flowParentProblem, placeWaitingParent } from "./flow-state.js";
import { groupOnlyExtras } from "./groups.js";
import type { NewChildren } from "./new-children.js";
import { ApplyError, place } from "./placement.js";
import { DecodedEnqueue, type EnqueueRecord } from "./records/enqueue.js";
import { type State, Status } from "./state.js";
import { ID_BYTES, type JobExtras, slot } from "./table.js";

const MAX_U32 = 2 ** 32 - 1;

/**
 * Checks an enqueue; true when its id is newer than every id so far (then it
 * cannot be a duplicate, and no lookup is needed).
 */
export function checkEnqueue(
  state: State,
  rec: EnqueueRecord,
  /** Flow parents added earlier in the same transaction (not applied yet). */
  newParents?: ReadonlySet<string>,
): boolean {
  let newest: boolean;
  if (rec instanceof DecodedEnqueue) {
    // Any 16 bytes are a job id; compared and looked up as bytes.
    newest = state.isNewestId(rec.bytes, rec.idAt);
    if (!newest && state.ids.find(rec.bytes, rec.idAt) !== -1)
      throw new ApplyError(`enqueue: duplicate job id ${rec.id}`);
  } else {
    // Compared as bytes (the order of canonical ULIDs), like a decoded record's.
    const key = state.idKeyIfUlid(rec.id);
    if (key === null) throw new ApplyError(`enqueue: ${JSON.stringify(rec.id)} is not a job id`);
    newest = state.isNewestId(key, 0);
    if (!newest && state.ids.find(key, 0) !== -1)
      throw new ApplyError(`enqueue: duplicate job id ${rec.id}`);
  }
  checkOwnFields(state, rec);
  if (rec.flowParent !== undefined && newParents?.has(rec.flowParent) !== true)
    checkParentOf(state, rec);
  checkWaitingFields(rec);
  return newest;
}

/**
 * What {@link checkEnqueue} checks of an enqueue's own fields, apart from
 * its id and its flow: the ranges, and that no job holds its dedup key or
 * caller id. A transaction checks each of its enqueues with this, then with
 * {@link checkParentOf} and {@link checkWaitingFields}
 * (`transaction-check.ts`): the flow's checks apart, this stays as a
 * process's plain enqueues optimized it. A flow's record is checked with it
 * before the turn that commits it, which rechecks only the caller ids: a
 * new check here that reads the state must either keep such a record from
 * being prechecked (as a dedup key does) or be rechecked at its commit
 * (`recheck` in `transaction-check.ts`), or live and replay may differ.
 */
export function checkOwnFields(state: State, rec: EnqueueRecord): void {
  if (rec.priority > MAX_U32 || rec.maxAttempts > MAX_U32 || rec.maxAttempts < 1)
    throw new ApplyError(`enqueue: job ${rec.id} has priority or maxAttempts out of range`);
  if (rec.dedupKey !== undefined && state.queues.get(rec.queue)?.dedup.has(rec.dedupKey))
    throw new ApplyError(`enqueue: dedup key of ${rec.id} is held`);
  if (rec.jobId !== undefined && state.jobIds.has(rec.jobId))
    throw new ApplyError(`enqueue: job id ${JSON.stringify(rec.jobId)} of ${rec.id} is taken`);
}

/** Checks that the parent a flow child `rec` names is in the state, waiting for children. */
export function checkParentOf(state: State, rec: EnqueueRecord): void {
  const problem = flowParentProblem(state, rec.flowParent!);
  if (problem !== null) throw new ApplyError(`enqueue: flow child ${rec.id}: ${problem}`);
}

/** Checks that a flow parent `rec` (one that waits for children) has no runAt. */
export function checkWaitingFields(rec: EnqueueRecord): void {
  if (rec.waitsForChildren === true && rec.runAt !== undefined)
    throw new ApplyError(`enqueue: flow parent ${rec.id} has a runAt`);
}

/**
 * What a transaction's check found of one of its enqueues (`apply-tx.ts`):
 * whether its id is newer than every id when it is applied, and its 16 id
 * bytes (`bytes[at..at+16)`), so its apply neither compares nor parses it again.
 */
export interface CheckedId {
  /**
   * Newer than every id when it is applied. Then the caller records the
   * newest id of its run of enqueues (`State.setLastIdBytes`), once for the
   * run rather than once per job.
   */
  newest: boolean;
  bytes: Uint8Array;
  at: number;
  /**
   * Where its payload was written already, with the rest of a run of
   * payloads that lie side by side (`apply-tx.ts`); -1 when it is not.
   */
  payloadSegment: number;
  payloadOffset: number;
}

/**
 * The extras of a job enqueued with more than a group: one object literal
 * per set of keys, so jobs enqueued alike share one object shape (hidden
 * class). A key added to a copy (`{ ...extras, flowParent }`) gave every
 * flow child a shape of its own, and every later read of its extras a
 * megamorphic lookup.
 */
function ownExtras(rec: EnqueueRecord): JobExtras {
  const parentId = rec.flowParent;
  if (rec.jobId === undefined)
    return parentId === undefined
      ? {
          headers: rec.headers,
          dedupKey: rec.dedupKey,
          timeoutMs: rec.timeoutMs,
          payloadRef: rec.payloadRef,
          groupKey: rec.groupKey,
        }
      : {
          headers: rec.headers,
          dedupKey: rec.dedupKey,
          timeoutMs: rec.timeoutMs,
          payloadRef: rec.payloadRef,
          groupKey: rec.groupKey,
          flowParent: parentId,
        };
  return parentId === undefined
    ? {
        headers: rec.headers,
        dedupKey: rec.dedupKey,
        jobId: rec.jobId,
        timeoutMs: rec.timeoutMs,
        payloadRef: rec.payloadRef,
        groupKey: rec.groupKey,
      }
    : {
        headers: rec.headers,
        dedupKey: rec.dedupKey,
        jobId: rec.jobId,
        timeoutMs: rec.timeoutMs,
        payloadRef: rec.payloadRef,
        groupKey: rec.groupKey,
        flowParent: parentId,
      };
}

/**
 * Fills a new row for enqueue `rec` (id `idBytes[idAt..+16)`, in queue number
 * `queue`): id, columns, sequence number and payload. The one definition of a
 * new job's row, for `enqueue` and `enqueueChildren`, live and at replay.
 */
export function fillRow(
  state: State,
  rec: EnqueueRecord,
  queue: number,
  idBytes: Uint8Array,
  idAt: number,
  checked: CheckedId | undefined,
): number {
  const h = state.table.allocate();
  const page = state.table.write(h);
  const i = slot(h);
  // Sixteen bytes: a loop costs less than the view (a Buffer, at replay) that `set` would need.
  const id = page.id;
  const at = i * ID_BYTES;
  for (let k = 0; k < ID_BYTES; k++) id[at + k] = idBytes[idAt + k]!;
  page.flags[i] = 0;
  page.queue[i] = queue;
  page.attempts[i] = 0;
  page.maxAttempts[i] = rec.maxAttempts;
  page.priority[i] = rec.priority;
  page.enqueuedAt[i] = rec.enqueuedAt;
  page.seq[i] = state.nextSeq++;
  if (checked !== undefined && checked.payloadSegment >= 0) {
    // Written with the rest of its run of payloads.
    page.payloadSegment[i] = checked.payloadSegment;
    page.payloadLength[i] = rec.payload.byteLength;
    page.payloadOffset[i] = checked.payloadOffset;
  } else {
    if (rec instanceof DecodedEnqueue) {
      const from = rec.payloadAt;
      page.payloadSegment[i] = state.arena.write(rec.bytes, from, from + rec.payloadLength);
      page.payloadLength[i] = rec.payloadLength;
    } else {
      page.payloadSegment[i] = state.arena.write(rec.payload);
      page.payloadLength[i] = rec.payload.byteLength;
    }
    page.payloadOffset[i] = state.arena.offset;
  }
  return h;
}

/**
 * Applies an enqueue. Given `children`, a flow child is registered with its
 * parent only when the caller adds the batch (`addNewChildren`): a
 * transaction does so for its run of enqueues, in one step per parent.
 */
export function enqueue(
  state: State,
  rec: EnqueueRecord,
  children?: NewChildren,
  /**
   * `checkEnqueue` passed for it in the same step, with nothing applied since
   * that could change its outcome (a transaction checks all its operations
   * first), and found this of its id.
   */
  checked?: CheckedId,
): void {
  let newest: boolean;
  let idBytes: Uint8Array;
  let idAt = 0;
  if (checked !== undefined) {
    newest = checked.newest;
    idBytes = checked.bytes;
    idAt = checked.at;
  } else {
    newest = checkEnqueue(state, rec);
    if (rec instanceof DecodedEnqueue) {
      idBytes = rec.bytes;
      idAt = rec.idAt;
    } else idBytes = state.idKeyIfUlid(rec.id)!; // checked above
  }
  const qs = state.queue(rec.queue);
  qs.heldJob = true;
  const h = fillRow(state, rec, qs.index, idBytes, idAt, checked);
  const decoded = rec instanceof DecodedEnqueue ? rec : null;
  // A released row has no trace context left: only a traced job sets one.
  if (decoded !== null) {
    if (decoded.traceAt >= 0) state.table.setTraceBytes(h, decoded.bytes, decoded.traceAt);
  } else if (rec.trace !== undefined) state.table.setTrace(h, rec.trace);
  const onlyGroup =
    rec.headers === undefined &&
    rec.dedupKey === undefined &&
    rec.jobId === undefined &&
    rec.timeoutMs === undefined &&
    rec.payloadRef === undefined;
  const parentId = rec.flowParent;
  // A flow child names its parent from the start: one extras object per child, not two
  // (and one per parent for the children of a transaction that have no other extras).
  const extras: JobExtras | undefined = onlyGroup
    ? rec.groupKey === undefined
      ? parentId === undefined
        ? undefined
        : children === undefined
          ? { flowParent: parentId }
          : children.extrasNaming(parentId)
      : parentId === undefined
        ? groupOnlyExtras(state, rec.groupKey)
        : { groupKey: rec.groupKey, flowParent: parentId }
    : ownExtras(rec);
  // Each of these holds something: no check that they are empty.
  if (extras !== undefined) state.table.putExtras(h, extras);
  if (rec.jobId !== undefined) {
    state.jobIds.set(rec.jobId, h);
    // The id names this job now: a cancelled job's tombstone under it is forgotten.
    if (state.cancelled.size > 0) state.cancelled.delete(rec.jobId);
  }
  if (newest) {
    state.ids.addNew(h);
    if (checked === undefined) state.setLastIdBytes(idBytes, idAt);
  } else state.ids.add(h);
  if (rec.dedupKey !== undefined) qs.dedup.set(rec.dedupKey, h);
  if (rec.flowParent !== undefined) {
    const publicId = rec.jobId ?? rec.id;
    if (children === undefined) {
      const parent = state.find(rec.flowParent);
      addChildren(state, parent, [{ id: rec.id, publicId, ended: false }], [h]);
    } else children.add(rec.flowParent, h, rec.id, publicId);
  }
  if (rec.waitsForChildren === true) {
    placeWaitingParent(state, h);
    children?.parentAdded(rec.id, h);
  } else if (rec.runAt === undefined) place(state, h, Status.Pending, 0);
  else place(state, h, Status.Scheduled, rec.runAt);
}
