/**
 * `apply` of a transaction record: every operation is checked against the
 * state first — each acts on a different job, each job is in a status its
 * operation accepts, each enqueue fits — and only then applied, one after
 * the other, by the one `apply`. So a transaction changes everything or,
 * when some part does not fit (a damaged log, a bug), throws `ApplyError`
 * having changed nothing: it never applies half.
 *
 * The check is `transaction-check.ts` ({@link checkTransaction}).
 */
import { enqueueChildren } from "./apply-child.js";
import { type CheckedId, enqueue } from "./apply-enqueue.js";
import { addNewChildren } from "./flow-state.js";
import { ID_BYTES } from "./ids.js";
import type { NewChildren } from "./new-children.js";
import type { QueueRecord } from "./records/codec.js";
import { DecodedEnqueue, type EnqueueRecord } from "./records/enqueue.js";
import { Tag } from "./records/tags.js";
import type { TransactionOp, TransactionRecord } from "./records/transaction.js";
import type { State } from "./state.js";
import { type CheckedEnqueues, checkTransaction } from "./transaction-check.js";

/**
 * Applies every operation of `rec` with `applyOne` after checking them all
 * ({@link checkTransaction}); throws `ApplyError` having changed nothing.
 */
export function applyTransaction(
  state: State,
  rec: TransactionRecord,
  applyOne: (state: State, rec: QueueRecord) => void,
): void {
  const checked = checkTransaction(state, rec);
  /** Flow children of the current run of enqueues. */
  const children = state.newChildren;
  const ops = rec.ops;
  let enqueued = 0;
  try {
    for (let i = 0; i < ops.length; ) {
      const op = ops[i]!;
      if (op.tag !== Tag.Enqueue) {
        // Anything else may read a parent's children: they are all added by then.
        addNewChildren(state, children);
        applyOne(state, op);
        i++;
        continue;
      }
      let end = i + 1;
      while (end < ops.length && ops[end]!.tag === Tag.Enqueue) end++;
      applyEnqueues(state, ops, i, end, enqueued, checked, children);
      enqueued += end - i;
      i = end;
    }
    addNewChildren(state, children);
  } finally {
    children.clear();
  }
}

/**
 * The end of the run of enqueues from `ops[from]` (up to `to`) whose inline
 * payloads lie side by side in one buffer, in order (a flow's, as `copyFlow`
 * made them): `from + 1` when there is none. Decoded records (a replay's)
 * are left to their own writes.
 */
function payloadRunEnd(ops: readonly TransactionOp[], from: number, to: number): number {
  let end = from;
  let buffer: ArrayBufferLike | null = null;
  let next = 0;
  for (; end < to; end++) {
    const op = ops[end] as EnqueueRecord;
    if (op instanceof DecodedEnqueue) break;
    const payload = op.payload;
    if (payload.byteLength === 0) break;
    if (buffer !== null && (payload.buffer !== buffer || payload.byteOffset !== next)) break;
    buffer = payload.buffer;
    next = payload.byteOffset + payload.byteLength;
  }
  return Math.max(end, from + 1);
}

/**
 * Whether a run of {@link payloadRunEnd} of more than one enqueue starts at
 * `ops[j]` (up to `to`): the next one's payload follows its payload in the
 * same buffer.
 */
function startsPayloadRun(ops: readonly TransactionOp[], j: number, to: number): boolean {
  if (j + 1 >= to) return false;
  const a = ops[j] as EnqueueRecord;
  const b = ops[j + 1] as EnqueueRecord;
  if (a instanceof DecodedEnqueue || b instanceof DecodedEnqueue) return false;
  const head = a.payload;
  const tail = b.payload;
  return (
    head.byteLength !== 0 &&
    tail.byteLength !== 0 &&
    tail.byteOffset === head.byteOffset + head.byteLength &&
    tail.buffer === head.buffer
  );
}

/**
 * Applies the run of enqueues `ops[from..to)`, the first of which is the
 * transaction's enqueue number `first` (for what `checked` found of it).
 * Checked above against the state before the transaction. Its earlier
 * operations can free ids and dedup keys (never take one), and end or wake a
 * parent the state has only if no child of such a parent follows (refused
 * above). Payloads that lie side by side are copied into the arena in one
 * write (10,000 small copies are a sixth of a large flow's commit).
 */
function applyEnqueues(
  state: State,
  ops: readonly TransactionOp[],
  from: number,
  to: number,
  first: number,
  checked: CheckedEnqueues,
  children: NewChildren,
): void {
  const id: CheckedId = {
    newest: false,
    bytes: checked.ids,
    at: 0,
    payloadSegment: -1,
    payloadOffset: 0,
  };
  let runEnd = from;
  let runSegment = -1;
  /** Where the run's first payload went in the arena, and where it starts in its buffer. */
  let runOffset = 0;
  let runStart = 0;
  /** The run's last fresh enqueue (-1: none). */
  let lastFresh = -1;
  for (let i = from, n = first; i < to; ) {
    const op = ops[i] as EnqueueRecord;
    if (i >= runEnd) {
      runEnd = payloadRunEnd(ops, i, to);
      runSegment = -1;
      if (runEnd - i > 1) {
        const head = op.payload;
        const last = (ops[runEnd - 1] as EnqueueRecord).payload;
        runStart = head.byteOffset;
        const bytes = new Uint8Array(head.buffer);
        runSegment = state.arena.write(bytes, runStart, last.byteOffset + last.byteLength);
        runOffset = state.arena.offset;
      }
    }
    id.payloadSegment = runSegment;
    // Plain children of one parent (a flow's) in one step: within their run of payloads, or
    // (each payload then written on its own, as a decoded record's) as far as they go; but a
    // lone payload (an empty one) just before a run is a step of its own, for that run's one
    // write. (Not looked for further on: a look at each child costs a flow of strings more
    // than the writes it would save.)
    const childTo = runSegment >= 0 ? runEnd : startsPayloadRun(ops, i + 1, to) ? i + 1 : to;
    const childEnd = enqueueChildren(
      state,
      ops,
      i,
      childTo,
      n,
      id,
      children,
      checked.fresh,
      runOffset - runStart,
    );
    if (childEnd > i) {
      // Fresh ids increase along the run: its last fresh one is the newest so far.
      for (let m = n + childEnd - i - 1; m >= n; m--)
        if (checked.fresh[m] === 1) {
          lastFresh = m;
          break;
        }
      n += childEnd - i;
      i = childEnd;
      continue;
    }
    id.newest = checked.fresh[n] === 1;
    id.at = n * ID_BYTES;
    if (id.newest) lastFresh = n;
    if (runSegment >= 0) id.payloadOffset = runOffset + (op.payload.byteOffset - runStart);
    enqueue(state, op, children, id);
    i++;
    n++;
  }
  // Fresh ids increase along the transaction: the run's last fresh one is the newest now.
  if (lastFresh !== -1) state.setLastIdBytes(checked.ids, lastFresh * ID_BYTES);
}
