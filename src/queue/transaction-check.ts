/**
 * The check of a transaction record before `apply` applies any of it
 * (`apply-tx.ts`): each operation acts on a different job, each job is in a
 * status its operation accepts, each enqueue fits. It mirrors the checks of
 * the cases of `apply` it precedes; a new check there on a record a
 * transaction may hold belongs here too.
 *
 * A flow's record (`flow-commit.ts`) is checked the same way in the slices
 * that prepare it, one operation at a time ({@link TransactionCheck}); the
 * turn that commits it then rechecks only what the state may have changed
 * since ({@link PrecheckedTransaction}), not its 10,000 operations again.
 */
import { checkOwnFields, checkParentOf, checkWaitingFields } from "./apply-enqueue.js";
import { ID_BYTES, writeIdBytesIfUlid } from "./ids.js";
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

/**
 * A transaction of enqueues only, checked by a {@link TransactionCheck}
 * before the turn that commits it, whose outcome depends on the state only
 * through what {@link recheck} looks at again: every enqueue fresh (so only
 * the first one's id is compared with the state's), no flow parent outside
 * the transaction, no dedup key, and the caller ids listed.
 */
export interface PrecheckedTransaction {
  readonly record: TransactionRecord;
  /** Its ids: the caller may write fresh ones over them (in order) until the commit. */
  readonly checked: CheckedEnqueues;
  readonly jobIds: readonly string[];
  /**
   * The state in which {@link takenCallerId} last found its caller ids
   * free, and its `nextSeq` then (every job added takes one), else null.
   */
  callerIdsFree: { readonly state: State; readonly seq: number } | null;
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

/**
 * The check of one transaction's operations, one at a time, in order
 * ({@link op}): throws `ApplyError` at the first that does not fit, having
 * changed nothing. {@link checkTransaction} runs one over a whole record in
 * its apply's step; a flow's preparation runs one in slices
 * ({@link prechecked}).
 */
export class TransactionCheck {
  readonly checked: CheckedEnqueues;
  readonly #state: State;
  readonly #hinted: boolean;
  #n = 0;
  /** Jobs acted on or added by earlier operations (by log id). */
  readonly #touched = new Set<string>();
  /** Dedup keys (queue, key) and caller ids taken by earlier enqueues. */
  readonly #dedupKeys = new Set<string>();
  readonly #jobIds = new Set<string>();
  /** Flow parents added by earlier enqueues: their children may follow. */
  readonly #parents = new Set<string>();
  /**
   * Whether an earlier operation may have ended or woken a flow parent the
   * state has: an ack, dead-letter or cancel, of it or of a child of it.
   * A child of such a parent after it is refused: checked against the state
   * before the transaction, it would be added to a parent that is no longer
   * waiting. (No queue call writes one; a damaged or hand-made record may.)
   */
  #parentsMayEnd = false;
  /**
   * Enqueues so far whose ids are newer than every id of the state and than
   * each other's, in order (a flow's): distinct from each other and from
   * every job, they are not put in `touched` (10,000 new strings hashed, for
   * a flow) unless an operation that may name one of them comes.
   */
  readonly #fresh: EnqueueRecord[] = [];
  /** Where the newest fresh enqueue's id is in `checked.ids` (-1: none yet). */
  #lastFreshAt = -1;
  #lastFresh: EnqueueRecord | null = null;
  /** Whether every operation so far is an enqueue that {@link prechecked} may stand for. */
  #stateless = true;
  readonly #assumeNewest: boolean;

  /**
   * For a transaction of `enqueues` enqueues; `ids`: their id bytes, as the
   * writer gave them (`State.expectEnqueueIds`), else null (parsed here).
   * `assumeNewest`: the first enqueue's id is taken to be newer than every id
   * of the state, as the commit's {@link recheck} makes sure (a flow's, whose
   * ids may be replaced by fresh ones at its commit, checked in slices while
   * other jobs are enqueued); only for {@link prechecked}.
   */
  constructor(state: State, enqueues: number, ids: Uint8Array | null, assumeNewest = false) {
    this.#state = state;
    this.#assumeNewest = assumeNewest;
    this.#hinted = ids !== null;
    this.checked = {
      ids: ids ?? new Uint8Array(enqueues * ID_BYTES),
      fresh: new Uint8Array(enqueues),
    };
  }

  #track(): void {
    const fresh = this.#fresh;
    for (let i = 0; i < fresh.length; i++) this.#touched.add(fresh[i]!.id);
    fresh.length = 0;
  }

  /** Checks the next operation, `op`. */
  op(op: TransactionOp): void {
    const state = this.#state;
    const touched = this.#touched;
    switch (op.tag) {
      case Tag.Enqueue: {
        const ids = this.checked.ids;
        const n = this.#n;
        // The id is parsed once, into what the apply reads; checked as `checkEnqueue` does.
        const at = n * ID_BYTES;
        if (!this.#hinted) putIdBytes(op, ids, at);
        // Newer than the newest fresh one is newer than every id of the state: one comparison.
        const lastFresh = this.#lastFresh;
        const afterFresh =
          lastFresh !== null && idSortsAfter(op, lastFresh, ids, at, this.#lastFreshAt);
        const newest = afterFresh || (n === 0 && this.#assumeNewest) || state.isNewestId(ids, at);
        if (!newest && state.ids.find(ids, at) !== -1)
          throw new ApplyError(`enqueue: duplicate job id ${op.id}`);
        checkOwnFields(state, op);
        // A child of a parent added above (a flow's) needs no check of its parent.
        const parentId = op.flowParent;
        const parentBefore = parentId !== undefined && !this.#parents.has(parentId);
        if (parentBefore) {
          this.#stateless = false;
          checkParentOf(state, op);
        }
        checkWaitingFields(op);
        if (parentBefore && this.#parentsMayEnd)
          throw new ApplyError(
            `transaction: flow child ${op.id} of ${op.flowParent} follows an operation that may end its parent`,
          );
        if (op.waitsForChildren === true) this.#parents.add(op.id);
        if (afterFresh || (newest && this.#lastFreshAt === -1)) {
          this.#lastFreshAt = at;
          this.#lastFresh = op;
          this.#fresh.push(op);
          this.checked.fresh[n] = 1;
        } else {
          this.#stateless = false;
          this.#track();
          if (touched.has(op.id)) throw new ApplyError(`transaction: job id ${op.id} twice`);
          touched.add(op.id);
        }
        if (op.dedupKey !== undefined) {
          this.#stateless = false;
          const key = `${op.queue}\u0000${op.dedupKey}`;
          if (this.#dedupKeys.has(key))
            throw new ApplyError(`transaction: dedup key of ${op.id} is held by an earlier job`);
          this.#dedupKeys.add(key);
        }
        if (op.jobId !== undefined) {
          if (this.#jobIds.has(op.jobId))
            throw new ApplyError(`transaction: job id ${JSON.stringify(op.jobId)} twice`);
          this.#jobIds.add(op.jobId);
        }
        this.#n = n + 1;
        return;
      }
      case Tag.Ack:
        this.#notEnqueue();
        checkJob(state, op.id, CLAIMED, touched, "ack");
        this.#parentsMayEnd = true;
        if (op.result !== undefined && !op.keep)
          throw new ApplyError(`transaction ack: job ${op.id} has a result but is not kept`);
        return;
      case Tag.Retry:
        this.#notEnqueue();
        checkJob(state, op.id, CLAIMED, touched, "retry");
        return;
      case Tag.Dead:
        this.#notEnqueue();
        checkJob(state, op.id, CLAIMED, touched, "dead");
        this.#parentsMayEnd = true;
        return;
      case Tag.CancelRequest:
        this.#notEnqueue();
        checkJob(state, op.id, CLAIMED, touched, "cancel request");
        return;
      case Tag.Cancel:
        this.#notEnqueue();
        checkJob(state, op.id, CANCELLABLE, touched, "cancel");
        this.#parentsMayEnd = true;
        return;
      case Tag.KvPut:
      case Tag.KvDelete:
        this.#stateless = false;
        return;
      default:
        throw new ApplyError(
          `transaction holds a record with tag ${(op as QueueRecord).tag}, which it cannot`,
        );
    }
  }

  #notEnqueue(): void {
    this.#stateless = false;
    this.#track();
  }

  /**
   * What the turn that commits `record` (every operation of which this
   * checked, in order) needs to recheck of it, or null when its outcome may
   * depend on the state in more ways than {@link recheck} looks at again.
   */
  prechecked(record: TransactionRecord): PrecheckedTransaction | null {
    if (!this.#stateless || this.#n === 0 || this.#n !== record.ops.length) return null;
    return { record, checked: this.checked, jobIds: [...this.#jobIds], callerIdsFree: null };
  }
}

/**
 * The first caller id of `pre` that names a job of `state` (its `jobId`, or
 * its generated id), else null: then, until a job is added to `state`, the
 * apply of `pre.record` there does not look them up again ({@link recheck}).
 * For the turn that commits a flow, which must refuse a taken id itself.
 */
export function takenCallerId(state: State, pre: PrecheckedTransaction): string | null {
  const jobIds = pre.jobIds;
  for (let i = 0; i < jobIds.length; i++)
    if (state.findPublic(jobIds[i]!) !== -1) return jobIds[i]!;
  pre.callerIdsFree = { state, seq: state.nextSeq };
  return null;
}

/**
 * Every read of the state in {@link TransactionCheck.op} (and in what it
 * calls, `checkOwnFields`) must either clear its `#stateless` (no precheck
 * kept) or be looked at again here: the commit runs nothing else of it.
 *
 * Whether `pre` still holds in `state`: its first enqueue's id is the newest
 * (then, every one being newer than the one before, all are fresh) and no
 * job has one of its caller ids (looked up unless {@link takenCallerId}
 * found them free in `state` with no job added since: caller ids are only
 * ever added with a job). Its ids may have been replaced since the
 * check, in its record and in `pre.checked.ids` alike, by ids each newer
 * than the one before (`flow-commit.ts`: fresh ones from the generator).
 */
function recheck(state: State, pre: PrecheckedTransaction): boolean {
  if (!state.isNewestId(pre.checked.ids, 0)) return false;
  const free = pre.callerIdsFree;
  if (free !== null && free.state === state && free.seq === state.nextSeq) return true;
  for (let i = 0; i < pre.jobIds.length; i++) if (state.jobIds.has(pre.jobIds[i]!)) return false;
  return true;
}

/** Throws `ApplyError` (changing nothing) unless every operation of `rec` fits `state`. */
export function checkTransaction(state: State, rec: TransactionRecord): CheckedEnqueues {
  // Checked in the slices that prepared it (a flow's): then only what may have changed since.
  const pre = state.takePrechecked(rec);
  if (pre !== null && recheck(state, pre)) return pre.checked;
  // Indexed loops, not for-of: unoptimized, for-of calls the array iterator and makes a result
  // object per element (a flow's transaction holds 10,000 operations, checked in one turn).
  const ops = rec.ops;
  let enqueues = 0;
  for (let i = 0; i < ops.length; i++) if (ops[i]!.tag === Tag.Enqueue) enqueues++;
  // The writer's id bytes when it gave them (a flow's: `State.expectEnqueueIds`), else parsed.
  const check = new TransactionCheck(state, enqueues, state.takeEnqueueIds(enqueues));
  for (let i = 0; i < ops.length; i++) check.op(ops[i]!);
  return check.checked;
}
