/**
 * Committing a flow (`enqueueFlow`) without holding the event loop for the
 * flow's whole size: its records are decided, encoded and checked (as its
 * apply checks a transaction, `transaction-check.ts`) in slices of the loop
 * first ({@link prepareFlow}), and the turn that commits only rechecks what
 * may have changed meanwhile and applies the one transaction record
 * ({@link commitPrepared}). The record stays one record, applied in one step
 * live and at replay, so a flow is still added whole or not at all. A flow
 * with payloads to offload is prepared the same way once their objects are
 * written (`flows.ts`), its records referencing them as a transaction's do.
 *
 * What a flow's outcome depends on in the state is only whether a caller's
 * `jobId` is taken: a flow takes no `dedupKey` and its parents are its own
 * jobs. Its `jobId`s are held from the call on (`flow-job-ids.ts`), so a
 * later call with one of them waits for it to settle; an earlier call may
 * still take one meanwhile, so the commit turn rechecks them (once: see
 * `takenCallerId`).
 *
 * Job ids are strictly increasing in the order jobs are committed, which
 * orders pending jobs: the ids taken during preparation are the newest at
 * the commit unless the queue issued others meanwhile (a job enqueued while
 * the flow was prepared, which commits first); then the commit turn takes
 * fresh ones and writes them over the encoded ones (each op's id and
 * `flowParent` have a known place in the bytes), under 0.5 µs a job.
 *
 * A flow's `enqueuedAt`, and the `runAt` a `delayMs` gives, are the time
 * its preparation started: they are varints in the record, so they cannot
 * be written over in place, and the preparation of a flow of at most
 * `MAX_FLOW_JOBS` jobs takes some tens of milliseconds.
 */
import { DuplicateJobIdError } from "../errors.js";
import { nextTurn, type SliceBudget } from "../util/slices.js";
import { invalidArgument } from "../validate.js";
import { ByteWriter } from "./binary.js";
import type { QueueCore } from "./core.js";
import { enqueueRecordOf } from "./enqueue-record.js";
import { ID_BYTES, writeIdBytes } from "./ids.js";
import { ApplyError } from "./placement.js";
import { writeTransactionHead, writeTransactionOp } from "./records/codec.js";
import type { EnqueueIdSlots, EnqueueRecord } from "./records/enqueue.js";
import { Tag } from "./records/tags.js";
import type { TransactionRecord } from "./records/transaction.js";
import type { PayloadRef } from "./table.js";
import type { Op } from "./transaction-builder.js";
import {
  type PrecheckedTransaction,
  TransactionCheck,
  takenCallerId,
} from "./transaction-check.js";
import { MAX_TIMESTAMP_MS } from "./validate.js";

/** An enqueue of a flow, as `enqueueFlow` lists them (parent first, with links). */
export type FlowOp = Extract<Op, { kind: "enqueue" }>;

/** Records decided or encoded between two looks at the slice's budget. */
const RECORDS_PER_CHECK = 64;

/** A flow's transaction record, decided and encoded, waiting for the turn that commits it. */
export interface PreparedFlow {
  readonly record: TransactionRecord;
  /** The enqueue records of `record`, their ids patched when the commit takes fresh ones. */
  readonly records: readonly MutableEnqueue[];
  /** Each job's public id (its `jobId`, else its log id), kept up with `records`. */
  readonly publicIds: string[];
  /** The record's encoding, as `writeRecord` gives it. */
  readonly bytes: Uint8Array;
  /** Each op's 16 id bytes, in order, as in `bytes` (`State.expectEnqueueIds`). */
  readonly ids: Uint8Array;
  /** Where each op's id, and its `flowParent` (-1 for none), are in `bytes`. */
  readonly idAt: Int32Array;
  readonly parentAt: Int32Array;
  /** Each op's parent op (-1 for the root). */
  readonly parentOf: Int32Array;
  /** The id generator's count of ids issued once the flow's were taken (-1: others among them). */
  readonly issued: number;
  /** The caller's `jobId`s, with their argument names: rechecked by the commit turn. */
  readonly jobIds: readonly { readonly jobId: string; readonly arg: string }[];
  /** Queues that get pending jobs; the earliest `runAt` scheduled. */
  readonly dispatch: ReadonlySet<string>;
  readonly earliestRunAt: number;
  /** The record as checked before the commit (`transaction-check.ts`), or null: checked there. */
  readonly prechecked: PrecheckedTransaction | null;
}

/** An enqueue record whose ids the commit may replace. */
type MutableEnqueue = { -readonly [K in keyof EnqueueRecord]: EnqueueRecord[K] };

function taken(jobId: string, arg: string, inFlow: boolean): DuplicateJobIdError {
  return new DuplicateJobIdError(
    `Expected \`${arg}.jobId\` to be an id no job has, got ${JSON.stringify(jobId)} (taken${inFlow ? " earlier in this flow" : ""})`,
  );
}

/**
 * Throws `DuplicateJobIdError` for the first op of `ops` whose `jobId` is
 * in `lost`: ids a job already had when the flow was called
 * (`PendingFlowJobIds.holdFlow`).
 */
export function checkLostJobIds(ops: readonly FlowOp[], lost: ReadonlySet<string>): void {
  if (lost.size === 0) return;
  for (const { job } of ops) {
    const { jobId } = job.options;
    if (jobId !== undefined && lost.has(jobId)) throw taken(jobId, job.arg, false);
  }
}

/**
 * Decides the records of a flow's enqueues `ops` as a transaction's `decide`
 * would (the payload of op `n` offloaded to `refs.get(n)` when it has one,
 * its object written already), encodes the transaction record and checks it
 * as its apply would, in slices of `budget` (started by the caller); throws
 * as `decide` does for a `jobId` taken or repeated, or a `delayMs` past the
 * storable range, and `ClosedError` once the queue closed. Ends with a turn
 * of the loop, so the commit starts a turn of its own.
 */
export async function prepareFlow(
  core: QueueCore,
  ops: readonly FlowOp[],
  budget: SliceBudget,
  refs: ReadonlyMap<number, PayloadRef>,
): Promise<PreparedFlow> {
  const yieldIfSpent = async (done: number): Promise<void> => {
    if (done % RECORDS_PER_CHECK === 0 && budget.spent()) {
      await nextTurn();
      core.check();
      budget.start();
    }
  };
  const now = core.now();
  const state = core.state;
  const records: MutableEnqueue[] = [];
  const publicIds: string[] = [];
  const parentOf = new Int32Array(ops.length);
  const jobIds: { jobId: string; arg: string }[] = [];
  const seen = new Set<string>();
  const dispatch = new Set<string>();
  let earliestRunAt = Number.POSITIVE_INFINITY;
  const issuedBefore = core.ids.issued;
  for (let n = 0; n < ops.length; n++) {
    const { queue, job, flow } = ops[n]!;
    const { jobId, delayMs } = job.options;
    if (jobId !== undefined) {
      if (seen.has(jobId) || state.findPublic(jobId) !== -1)
        throw taken(jobId, job.arg, seen.has(jobId));
      seen.add(jobId);
      jobIds.push({ jobId, arg: job.arg });
    }
    if (delayMs !== undefined && now + delayMs > MAX_TIMESTAMP_MS)
      throw invalidArgument(
        `${job.arg}.delayMs`,
        `at most ${MAX_TIMESTAMP_MS - now} (the latest storable time, from now)`,
        delayMs,
      );
    const id = core.ids.next(now);
    const parent = flow?.parent;
    parentOf[n] = parent ?? -1;
    const flowParent = parent === undefined ? undefined : records[parent]!.id;
    const waits = flow?.waits === true;
    const record = enqueueRecordOf(id, queue, job, refs.get(n), now, flowParent, waits);
    records.push(record);
    publicIds.push(jobId ?? id);
    if (!waits) {
      if (record.runAt !== undefined) earliestRunAt = Math.min(earliestRunAt, record.runAt);
      else dispatch.add(queue);
    }
    await yieldIfSpent(n + 1);
  }
  // Ids issued between two slices of this loop sort among the flow's: then none is kept.
  const issued = core.ids.issued === issuedBefore + ops.length ? core.ids.issued : -1;
  const record: TransactionRecord = { tag: Tag.Transaction, ops: records };
  const idAt = new Int32Array(records.length);
  const parentAt = new Int32Array(records.length);
  const slots: EnqueueIdSlots = { id: 0, flowParent: -1 };
  // About the size of a small job's record each: one or two growths of the writer at most.
  const w = new ByteWriter(64 + records.length * 96);
  writeTransactionHead(w, records.length);
  for (let n = 0; n < records.length; n++) {
    writeTransactionOp(w, records[n]!, slots);
    idAt[n] = slots.id;
    parentAt[n] = slots.flowParent;
    await yieldIfSpent(n + 1);
  }
  const bytes = w.finish();
  const ids = new Uint8Array(records.length * ID_BYTES);
  for (let n = 0; n < records.length; n++) {
    const from = idAt[n]!;
    ids.set(bytes.subarray(from, from + ID_BYTES), n * ID_BYTES);
    await yieldIfSpent(n + 1);
  }
  const prechecked = await precheck(core, record, ids, yieldIfSpent);
  // The commit gets a turn of its own, whatever this slice left of its budget.
  await nextTurn();
  return {
    record,
    records,
    publicIds,
    bytes,
    ids,
    idAt,
    parentAt,
    parentOf,
    issued,
    jobIds,
    dispatch,
    earliestRunAt,
    prechecked,
  };
}

/**
 * Checks `record` (with id bytes `ids`) as its apply would, in slices, so
 * that the turn that commits it rechecks only what the state may change
 * meanwhile (`transaction-check.ts`). Null when that turn is to check it
 * whole: the check refused it here (a `jobId` taken meanwhile: the commit
 * turn refuses it as before), or its outcome depends on more of the state.
 */
async function precheck(
  core: QueueCore,
  record: TransactionRecord,
  ids: Uint8Array,
  yieldIfSpent: (done: number) => Promise<void>,
): Promise<PrecheckedTransaction | null> {
  const check = new TransactionCheck(core.state, record.ops.length, ids, true);
  const ops = record.ops;
  for (let n = 0; n < ops.length; n++) {
    try {
      check.op(ops[n]!);
    } catch (error) {
      if (error instanceof ApplyError) return null;
      throw error;
    }
    await yieldIfSpent(n + 1);
  }
  return check.prechecked(record);
}

/**
 * Gives the jobs of `prepared` fresh ids (in the commit turn) when the
 * queue issued ids since they were taken: in the records and over their
 * encoding, a child's `flowParent` too (a parent comes before its children).
 */
function renewIds(core: QueueCore, prepared: PreparedFlow): void {
  if (core.ids.issued === prepared.issued) return;
  const { records, publicIds, bytes, ids, idAt, parentAt, parentOf } = prepared;
  const now = core.now();
  for (let n = 0; n < records.length; n++) {
    const record = records[n]!;
    record.id = core.ids.next(now);
    if (record.jobId === undefined) publicIds[n] = record.id;
    writeIdBytes(record.id, bytes, idAt[n]!);
    ids.set(bytes.subarray(idAt[n]!, idAt[n]! + ID_BYTES), n * ID_BYTES);
    const parent = parentOf[n]!;
    if (parent === -1) continue;
    record.flowParent = records[parent]!.id;
    // The parent's id bytes, written just above: copied, not parsed again.
    const from = idAt[parent]!;
    bytes.copyWithin(parentAt[n]!, from, from + ID_BYTES);
  }
}

/**
 * Throws `DuplicateJobIdError` when a job added since `prepared` was
 * prepared took one of its `jobId`s: call in the synchronous step that
 * commits it ({@link commitPrepared}), just before.
 */
export function refuseTakenJobIds(core: QueueCore, prepared: PreparedFlow): void {
  const state = core.state;
  // Each caller id looked up once: the apply's recheck of a precheck takes the answer.
  const pre = prepared.prechecked;
  if (pre === null || takenCallerId(state, pre) !== null)
    for (const { jobId, arg } of prepared.jobIds)
      if (state.findPublic(jobId) !== -1) throw taken(jobId, arg, false);
}

/**
 * Commits `prepared` (call in one synchronous step with a writable log, once
 * {@link refuseTakenJobIds} passed): applies and appends the record. Its
 * `written` resolves once it is durable; `ids` are each job's public id (its
 * `jobId`, or the id it got), in the flow's order.
 */
export function commitPrepared(
  core: QueueCore,
  prepared: PreparedFlow,
): { ids: string[]; written: Promise<void> } {
  const state = core.state;
  renewIds(core, prepared);
  // The ids as encoded, so the commit's turn does not parse them again.
  state.expectEnqueueIds(prepared.ids);
  if (prepared.prechecked !== null) state.expectPrechecked(prepared.prechecked);
  const written = core.commitEncoded(prepared.record, prepared.bytes);
  if (prepared.earliestRunAt !== Number.POSITIVE_INFINITY)
    core.timers.scheduleAt(prepared.earliestRunAt);
  for (const queue of prepared.dispatch) core.dispatch(queue);
  return { ids: prepared.publicIds, written };
}
