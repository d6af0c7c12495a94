/**
 * Committing a flow (`enqueueFlow`) without holding the event loop for the
 * flow's whole size: its records are decided and encoded in slices of the
 * loop first ({@link prepareFlow}), and the turn that commits only rechecks
 * what may have changed meanwhile and applies the one transaction record
 * ({@link commitPrepared}). The record stays one record, applied in one step
 * live and at replay, so a flow is still added whole or not at all.
 *
 * What a flow's outcome depends on in the state is only whether a caller's
 * `jobId` is taken: a flow takes no `dedupKey`, its parents are its own jobs,
 * and a `delayMs` is turned into a `runAt` against the time of preparation.
 * So the commit turn rechecks the flow's `jobId`s, and nothing else.
 *
 * Its job ids are taken when the flow is prepared: jobs enqueued meanwhile
 * may have newer ids than the flow's, which `apply` accepts (it orders jobs
 * by their sequence, not their id).
 */
import { DuplicateJobIdError } from "../errors.js";
import { nextTurn, type SliceBudget } from "../util/slices.js";
import { invalidArgument } from "../validate.js";
import { ByteWriter } from "./binary.js";
import type { QueueCore } from "./core.js";
import { enqueueRecordOf } from "./enqueue-record.js";
import { writeTransactionHead, writeTransactionOp } from "./records/codec.js";
import type { EnqueueRecord } from "./records/enqueue.js";
import { Tag } from "./records/tags.js";
import type { TransactionRecord } from "./records/transaction.js";
import type { Op } from "./transaction-builder.js";
import { MAX_TIMESTAMP_MS } from "./validate.js";

/** An enqueue of a flow, as `enqueueFlow` lists them (parent first, with links). */
export type FlowOp = Extract<Op, { kind: "enqueue" }>;

/** Records decided or encoded between two looks at the slice's budget. */
const RECORDS_PER_CHECK = 64;

/** A flow's transaction record, decided and encoded, waiting for the turn that commits it. */
export interface PreparedFlow {
  readonly record: TransactionRecord;
  /** The record's encoding, as `writeRecord` gives it. */
  readonly bytes: Uint8Array;
  /** Each job's public id, in the flow's order. */
  readonly ids: readonly string[];
  /** The caller's `jobId`s, with their argument names: rechecked by the commit turn. */
  readonly jobIds: readonly { readonly jobId: string; readonly arg: string }[];
  /** Queues that get pending jobs; the earliest `runAt` scheduled. */
  readonly dispatch: ReadonlySet<string>;
  readonly earliestRunAt: number;
}

function taken(jobId: string, arg: string, inFlow: boolean): DuplicateJobIdError {
  return new DuplicateJobIdError(
    `Expected \`${arg}.jobId\` to be an id no job has, got ${JSON.stringify(jobId)} (taken${inFlow ? " earlier in this flow" : ""})`,
  );
}

/**
 * Decides the records of a flow's enqueues `ops` (none of which offloads its
 * payload) as a transaction's `decide` would, and encodes the transaction
 * record, in slices of `budget` (started by the caller); throws as `decide`
 * does for a `jobId` taken or repeated, or a `delayMs` past the storable
 * range. Ends with a turn of the loop when the last slice is spent, so the
 * commit starts a slice of its own.
 */
export async function prepareFlow(
  core: QueueCore,
  ops: readonly FlowOp[],
  budget: SliceBudget,
): Promise<PreparedFlow> {
  const yieldIfSpent = async (done: number): Promise<void> => {
    if (done % RECORDS_PER_CHECK === 0 && budget.spent()) {
      await nextTurn();
      budget.start();
    }
  };
  const now = core.now();
  const state = core.state;
  const records: EnqueueRecord[] = [];
  const ids: string[] = [];
  const jobIds: { jobId: string; arg: string }[] = [];
  const seen = new Set<string>();
  const dispatch = new Set<string>();
  let earliestRunAt = Number.POSITIVE_INFINITY;
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
    const flowParent = flow?.parent === undefined ? undefined : records[flow.parent]!.id;
    const waits = flow?.waits === true;
    const record = enqueueRecordOf(id, queue, job, undefined, now, flowParent, waits);
    records.push(record);
    ids.push(jobId ?? id);
    if (!waits) {
      if (record.runAt !== undefined) earliestRunAt = Math.min(earliestRunAt, record.runAt);
      else dispatch.add(queue);
    }
    await yieldIfSpent(n + 1);
  }
  const record: TransactionRecord = { tag: Tag.Transaction, ops: records };
  // About the size of a small job's record each: one or two growths of the writer at most.
  const w = new ByteWriter(64 + records.length * 96);
  writeTransactionHead(w, records.length);
  for (let n = 0; n < records.length; n++) {
    writeTransactionOp(w, records[n]!);
    await yieldIfSpent(n + 1);
  }
  if (budget.spent()) await nextTurn();
  return { record, bytes: w.finish(), ids, jobIds, dispatch, earliestRunAt };
}

/**
 * Commits `prepared` (call in one synchronous step with a writable log):
 * throws `DuplicateJobIdError`, writing nothing, when a job added since the
 * flow was prepared took one of its `jobId`s; otherwise applies and appends
 * the record. Resolves once it is durable.
 */
export function commitPrepared(core: QueueCore, prepared: PreparedFlow): Promise<void> {
  const state = core.state;
  for (const { jobId, arg } of prepared.jobIds)
    if (state.findPublic(jobId) !== -1) throw taken(jobId, arg, false);
  const written = core.commitEncoded(prepared.record, prepared.bytes);
  if (prepared.earliestRunAt !== Number.POSITIVE_INFINITY)
    core.timers.scheduleAt(prepared.earliestRunAt);
  for (const queue of prepared.dispatch) core.dispatch(queue);
  return written;
}
