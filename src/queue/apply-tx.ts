/**
 * `apply` of a transaction record: every operation is checked against the
 * state first — each acts on a different job, each job is in a status its
 * operation accepts, each enqueue fits — and only then applied, one after
 * the other, by the one `apply`. So a transaction changes everything or,
 * when some part does not fit (a damaged log, a bug), throws `ApplyError`
 * having changed nothing: it never applies half.
 *
 * The checks here mirror the checks of the cases of `apply` they precede;
 * a new check there on a record a transaction may hold belongs here too.
 */
import { enqueueChildren } from "./apply-child.js";
import {
  type CheckedId,
  checkOwnFields,
  checkParentOf,
  checkWaitingFields,
  enqueue,
} from "./apply-enqueue.js";
import { addNewChildren } from "./flow-state.js";
import { ID_BYTES, writeIdBytesIfUlid } from "./ids.js";
import type { NewChildren } from "./new-children.js";
import { ApplyError, STATUS_NAMES } from "./placement.js";
import type { QueueRecord } from "./records/codec.js";
import { DecodedEnqueue, type EnqueueRecord } from "./records/enqueue.js";
import { Tag } from "./records/tags.js";
import type { TransactionOp, TransactionRecord } from "./records/transaction.js";
import { type State, Status, type StatusCode } from "./state.js";

const CLAIMED: readonly StatusCode[] = [Status.Claimed];
const CANCELLABLE: readonly StatusCode[] = [Status.Pending, Status.Scheduled, Status.Claimed];

/**
 * Puts the 16 bytes of enqueue `rec`'s id at `into[at..]`: from its
 * record's bytes when it was decoded, else parsed from its id string.
 * Throws `ApplyError` for an id string that is not a job id.
 */
function putIdBytes(rec: EnqueueRecord, into: Uint8Array, at: number): void {
  if (rec instanceof DecodedEnqueue) {
    const bytes = rec.bytes;
    const from = rec.idAt;
    for (let k = 0; k < ID_BYTES; k++) into[at + k] = bytes[from + k]!;
  } else if (!writeIdBytesIfUlid(rec.id, into, at))
    throw new ApplyError(`enqueue: ${JSON.stringify(rec.id)} is not a job id`);
}

/** Whether the id at `ids[at..]` sorts after the one at `ids[before..]`. */
function sortsAfter(ids: Uint8Array, at: number, before: number): boolean {
  for (let k = 0; k < ID_BYTES; k++) {
    const d = ids[at + k]! - ids[before + k]!;
    if (d !== 0) return d > 0;
  }
  return false;
}

/**
 * Whether enqueue `op`'s id (its bytes at `ids[at..]`) sorts after enqueue
 * `before`'s (at `ids[beforeAt..]`). Two id strings that parsed as job ids
 * (`putIdBytes`: 26 digits of an alphabet in ASCII order, upper case only)
 * compare as their bytes do, in one string comparison rather than a loop
 * per byte (a flow's commit compares 10,000, in a turn that may run before
 * the loop's code is optimized); a decoded record has only its bytes.
 */
function idSortsAfter(
  op: EnqueueRecord,
  before: EnqueueRecord,
  ids: Uint8Array,
  at: number,
  beforeAt: number,
): boolean {
  if (op instanceof DecodedEnqueue || before instanceof DecodedEnqueue)
    return sortsAfter(ids, at, beforeAt);
  return op.id > before.id;
}

/**
 * What {@link checkTransaction} found of a transaction's enqueues, in their
 * order: each one's id bytes (16 each), and whether it is fresh (newer than
 * every id of the state and than the fresh ones before it). A fresh
 * enqueue's id is the newest when it is applied, and only a fresh one's is:
 * its apply needs no comparison and no parse of the id.
 */
export interface CheckedEnqueues {
  readonly ids: Uint8Array;
  readonly fresh: Uint8Array;
}

function checkJob(
  state: State,
  id: string,
  allowed: readonly StatusCode[],
  touched: Set<string>,
  what: string,
): void {
  if (touched.has(id)) throw new ApplyError(`transaction: job ${id} is acted on twice`);
  touched.add(id);
  const h = state.find(id);
  if (h === -1) throw new ApplyError(`transaction ${what}: no job ${id}`);
  const status = state.statusOf(h);
  if (!allowed.includes(status))
    throw new ApplyError(`transaction ${what}: job ${id} is ${STATUS_NAMES[status]}`);
}

/** Throws `ApplyError` (changing nothing) unless every operation of `rec` fits `state`. */
export function checkTransaction(state: State, rec: TransactionRecord): CheckedEnqueues {
  // Indexed loops, not for-of: unoptimized, for-of calls the array iterator and makes a result
  // object per element (a flow's transaction holds 10,000 operations, checked in one turn).
  const ops = rec.ops;
  let enqueues = 0;
  for (let i = 0; i < ops.length; i++) if (ops[i]!.tag === Tag.Enqueue) enqueues++;
  // The writer's id bytes when it gave them (a flow's: `State.expectEnqueueIds`), else parsed below.
  const hinted = state.takeEnqueueIds(enqueues);
  const checked: CheckedEnqueues = {
    ids: hinted ?? new Uint8Array(enqueues * ID_BYTES),
    fresh: new Uint8Array(enqueues),
  };
  let n = 0;
  /** Jobs acted on or added by earlier operations (by log id). */
  const touched = new Set<string>();
  /** Dedup keys (queue, key) and caller ids taken by earlier enqueues. */
  const dedupKeys = new Set<string>();
  const jobIds = new Set<string>();
  /** Flow parents added by earlier enqueues: their children may follow. */
  const parents = new Set<string>();
  /**
   * Whether an earlier operation may have ended or woken a flow parent the
   * state has: an ack, dead-letter or cancel, of it or of a child of it.
   * A child of such a parent after it is refused: checked against the state
   * before the transaction, it would be added to a parent that is no longer
   * waiting. (No queue call writes one; a damaged or hand-made record may.)
   */
  let parentsMayEnd = false;
  /**
   * Enqueues so far whose ids are newer than every id of the state and than
   * each other's, in order (a flow's): distinct from each other and from
   * every job, they are not put in `touched` (10,000 new strings hashed, for
   * a flow) unless an operation that may name one of them comes.
   */
  const fresh: EnqueueRecord[] = [];
  /** Where the newest fresh enqueue's id is in `checked.ids` (-1: none yet). */
  let lastFreshAt = -1;
  let lastFresh: EnqueueRecord | null = null;
  const track = (): void => {
    for (const op of fresh) touched.add(op.id);
    fresh.length = 0;
  };
  const ids = checked.ids;
  for (let i = 0; i < ops.length; i++) {
    const op = ops[i]!;
    switch (op.tag) {
      case Tag.Enqueue: {
        // The id is parsed once, into what the apply reads; checked as `checkEnqueue` does.
        const at = n * ID_BYTES;
        if (hinted === null) putIdBytes(op, ids, at);
        // Newer than the newest fresh one is newer than every id of the state: one comparison.
        const afterFresh = lastFresh !== null && idSortsAfter(op, lastFresh, ids, at, lastFreshAt);
        const newest = afterFresh || state.isNewestId(ids, at);
        if (!newest && state.ids.find(ids, at) !== -1)
          throw new ApplyError(`enqueue: duplicate job id ${op.id}`);
        checkOwnFields(state, op);
        // A child of a parent added above (a flow's) needs no check of its parent.
        const parentId = op.flowParent;
        const parentBefore = parentId !== undefined && !parents.has(parentId);
        if (parentBefore) checkParentOf(state, op);
        checkWaitingFields(op);
        if (parentBefore && parentsMayEnd)
          throw new ApplyError(
            `transaction: flow child ${op.id} of ${op.flowParent} follows an operation that may end its parent`,
          );
        if (op.waitsForChildren === true) parents.add(op.id);
        if (afterFresh || (newest && lastFreshAt === -1)) {
          lastFreshAt = at;
          lastFresh = op;
          fresh.push(op);
          checked.fresh[n] = 1;
        } else {
          track();
          if (touched.has(op.id)) throw new ApplyError(`transaction: job id ${op.id} twice`);
          touched.add(op.id);
        }
        if (op.dedupKey !== undefined) {
          const key = `${op.queue}\u0000${op.dedupKey}`;
          if (dedupKeys.has(key))
            throw new ApplyError(`transaction: dedup key of ${op.id} is held by an earlier job`);
          dedupKeys.add(key);
        }
        if (op.jobId !== undefined) {
          if (jobIds.has(op.jobId))
            throw new ApplyError(`transaction: job id ${JSON.stringify(op.jobId)} twice`);
          jobIds.add(op.jobId);
        }
        n++;
        break;
      }
      case Tag.Ack:
        track();
        checkJob(state, op.id, CLAIMED, touched, "ack");
        parentsMayEnd = true;
        if (op.result !== undefined && !op.keep)
          throw new ApplyError(`transaction ack: job ${op.id} has a result but is not kept`);
        break;
      case Tag.Retry:
        track();
        checkJob(state, op.id, CLAIMED, touched, "retry");
        break;
      case Tag.Dead:
        track();
        checkJob(state, op.id, CLAIMED, touched, "dead");
        parentsMayEnd = true;
        break;
      case Tag.CancelRequest:
        track();
        checkJob(state, op.id, CLAIMED, touched, "cancel request");
        break;
      case Tag.Cancel:
        track();
        checkJob(state, op.id, CANCELLABLE, touched, "cancel");
        parentsMayEnd = true;
        break;
      case Tag.KvPut:
      case Tag.KvDelete:
        break;
      default:
        throw new ApplyError(
          `transaction holds a record with tag ${(op as QueueRecord).tag}, which it cannot`,
        );
    }
  }
  return checked;
}

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
