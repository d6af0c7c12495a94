/** A transaction's operations checked in order against the state and decided into the records of one transaction record. */
import { ConflictError, DuplicateJobIdError } from "../errors.js";
import { describeValue, invalidArgument, invalidArgumentGot } from "../validate.js";
import type { QueueCore } from "./core.js";
import { decideDeadLetter, decideNack } from "./decisions.js";
import { enqueueRecordOf } from "./enqueue-record.js";
import { cancelTree, isWaitingParent } from "./flow-state.js";
import { sameValue } from "./kv.js";
import type { Lease } from "./leases.js";
import { Tag } from "./records/tags.js";
import type { TransactionOp } from "./records/transaction.js";
import { withProgress } from "./settle.js";
import { Status } from "./state.js";
import type { PayloadRef } from "./table.js";
import { Flag, slot } from "./table.js";
import type { Op, TransactionResult } from "./transaction-builder.js";
import { MAX_TIMESTAMP_MS } from "./validate.js";

/** The record and follow-up work a transaction's operations come to, decided against the state. */
export interface Decided {
  ops: TransactionOp[];
  result: TransactionResult;
  /** Leases the transaction settles (removed when it commits). */
  settled: Lease[];
  /** Claimed jobs it requests cancellation of (their leases abort once it commits). */
  cancelRequested: number[];
  /** Queues that get pending jobs; the earliest `runAt` scheduled. */
  dispatch: Set<string>;
  earliestRunAt: number;
  /** A dedup key or job id hit: its holder may still be in flight. */
  hit: boolean;
  /** Operation indexes whose offloaded payload object a decided record references. */
  offloaded: Set<number>;
}

/**
 * Checks `ops` in order against the state and decides the records; throws
 * (deciding nothing that lasts) on the first that cannot be done.
 */
export function decide(
  core: QueueCore,
  ops: readonly Op[],
  refs: ReadonlyMap<number, PayloadRef>,
): Decided {
  const state = core.state;
  const now = core.now();
  const decided: Decided = {
    ops: [],
    result: { enqueued: [], cancelled: [] },
    settled: [],
    cancelRequested: [],
    dispatch: new Set(),
    earliestRunAt: Number.POSITIVE_INFINITY,
    hit: false,
    offloaded: new Set(),
  };
  /**
   * Jobs acted on so far, by public id → the operation that did. A job is
   * named by its id even where no job has it (a cancel of an unknown id, a new
   * job's `jobId`): whether two operations meet on one job does not depend on
   * their order, nor on whether the job exists yet. Enqueues meet on one job
   * freely (a later one with its `jobId` or `dedupKey` reports `created: false`,
   * as a retried transaction does); any other pair is refused: with every job
   * acted on once, each operation is decided against the state before the
   * transaction, and what `apply` does to the state after one of them is
   * never seen by another.
   */
  const used = new Map<string, { what: string; enqueues: boolean }>();
  const use = (id: string, what: string, enqueues = false): void => {
    const earlier = used.get(id);
    if (earlier === undefined) used.set(id, { what, enqueues });
    else if (!earlier.enqueues || !enqueues)
      throw invalidArgumentGot(
        "build",
        "a function that acts on each job once per transaction",
        `job ${id} in ${earlier.what} and ${what}`,
      );
  };
  /**
   * The public id of the job `id` names (a job with its own `jobId` is also
   * found by its generated id), or `id` itself when no job has it: two
   * operations naming one job by its two ids meet on it.
   */
  const publicIdOf = (id: string): string => {
    const h = core.findJob(id);
    return h === -1 ? id : state.publicIdOf(h);
  };
  /** Whether an enqueue's job can meet another operation's: not in a flow, which only enqueues. */
  const settlesOrCancels = ops.some(
    (op) =>
      op.kind === "ack" || op.kind === "nack" || op.kind === "deadLetter" || op.kind === "cancel",
  );
  /** KV as the transaction's earlier operations left it (`null`: deleted). */
  const kv = new Map<string, Uint8Array | null>();
  const current = (key: string): Uint8Array | null =>
    kv.has(key) ? kv.get(key)! : (state.kv.get(key) ?? null);
  /** Caller ids and dedup keys (queue NUL key) taken by earlier enqueues → public id. */
  const jobIds = new Set<string>();
  const dedup = new Map<string, string>();
  /** Log ids of the enqueues decided so far, by operation index (flow parents). */
  const logIds: string[] = [];
  for (let n = 0; n < ops.length; n++) {
    const op = ops[n]!;
    const what = `operation ${n} (tx.${op.kind})`;
    switch (op.kind) {
      case "enqueue": {
        const { options, arg } = op.job;
        const { dedupKey, jobId, delayMs } = options;
        if (settlesOrCancels && jobId !== undefined) use(publicIdOf(jobId), what, true);
        // Decided against the state only: a call holding the id (a flow not settled yet)
        // was waited for before (`flow-job-ids.ts`), and a hold says nothing of the outcome.
        if (jobId !== undefined && (jobIds.has(jobId) || state.findPublic(jobId) !== -1)) {
          // A flow is added whole or not at all: its jobs cannot be skipped.
          if (op.flow !== undefined)
            throw new DuplicateJobIdError(
              `Expected \`${arg}.jobId\` to be an id no job has, got ${JSON.stringify(jobId)} (taken${jobIds.has(jobId) ? " earlier in this flow" : ""})`,
            );
          decided.result.enqueued.push({ id: jobId, created: false });
          decided.hit = true;
          break;
        }
        if (dedupKey !== undefined) {
          const key = `${op.queue}\u0000${dedupKey}`;
          const holder = state.queues.get(op.queue)?.dedup.get(dedupKey);
          const earlier = dedup.get(key);
          if (holder !== undefined || earlier !== undefined) {
            const id = earlier ?? state.publicIdOf(holder!);
            if (settlesOrCancels && id !== jobId)
              use(id, `operation ${n} (tx.enqueue, a hit on its dedupKey)`, true);
            decided.result.enqueued.push({ id, created: false });
            decided.hit = true;
            break;
          }
        }
        if (delayMs !== undefined && now + delayMs > MAX_TIMESTAMP_MS)
          throw invalidArgument(
            `${arg}.delayMs`,
            `at most ${MAX_TIMESTAMP_MS - now} (the latest storable time, from now)`,
            delayMs,
          );
        const id = core.ids.next(now);
        const payloadRef = refs.get(n);
        // Used only if the whole transaction is decided: a later operation may still throw.
        if (payloadRef !== undefined) decided.offloaded.add(n);
        const flowParent = op.flow?.parent === undefined ? undefined : logIds[op.flow.parent]!;
        const waits = op.flow?.waits === true;
        const record = enqueueRecordOf(id, op.queue, op.job, payloadRef, now, flowParent, waits);
        decided.ops.push(record);
        logIds[n] = id;
        const publicId = jobId ?? id;
        if (jobId !== undefined) jobIds.add(jobId);
        if (dedupKey !== undefined) dedup.set(`${op.queue}\u0000${dedupKey}`, publicId);
        decided.result.enqueued.push({ id: publicId, created: true });
        if (waits) break;
        if (record.runAt !== undefined)
          decided.earliestRunAt = Math.min(decided.earliestRunAt, record.runAt);
        else decided.dispatch.add(op.queue);
        break;
      }
      case "ack":
      case "nack":
      case "deadLetter": {
        const lease = core.liveLease(op.claim, `tx.${op.kind}`, `tx.${op.kind} claim`);
        use(state.publicIdOf(lease.job), what);
        decided.settled.push(lease);
        // Its group may be under its claim cap again: claims waiting for that are served.
        decided.dispatch.add(lease.queue);
        // The handler's last progress goes with the settlement, as with `Queue.ack` and the rest.
        if (op.kind === "ack") {
          const keep =
            op.result !== undefined ||
            core.settings.configs.get(lease.queue).keepDoneJobsMs !== null;
          const progress = keep ? lease.progress : undefined;
          decided.ops.push({
            tag: Tag.Ack,
            id: lease.id,
            keep,
            at: now,
            ...(op.result === undefined ? {} : { result: op.result }),
            ...(progress === undefined ? {} : { progress }),
          });
        } else if (op.kind === "deadLetter") {
          decided.ops.push(withProgress(decideDeadLetter(state, lease.job, now, op.reason), lease));
        } else {
          const record = decideNack(
            state,
            lease.job,
            core.settings.configs.get(lease.queue),
            now,
            op.error,
          );
          decided.ops.push(withProgress(record, lease));
          if (record.tag === Tag.Retry && record.runAt !== undefined)
            decided.earliestRunAt = Math.min(decided.earliestRunAt, record.runAt);
        }
        break;
      }
      case "cancel": {
        const h = core.findJob(op.id);
        // Named even if no job has the id: one cancel per id, and an enqueue of it is refused.
        use(h === -1 ? op.id : state.publicIdOf(h), what);
        const status = h === -1 ? null : state.statusOf(h);
        if (status === null || status === Status.Done || status === Status.Dead) {
          decided.result.cancelled.push("not_found");
          break;
        }
        const id = state.idOf(h);
        if (isWaitingParent(state, h)) {
          // A flow parent: its children that have not ended go with it (as `Queue.cancel`), so
          // the cancel acts on each of them too. (Were one settled by another operation, the
          // outcome would depend on which `apply` met first: a child's end can wake the parent
          // or make it dead.)
          for (const record of cancelTree(state, h, now).records) {
            const c = state.find(record.id);
            if (c !== h) {
              const child = state.publicIdOf(c);
              use(
                child,
                `operation ${n} (tx.cancel of flow parent ${op.id}, which would also cancel ${child})`,
              );
            }
            decided.ops.push(record);
            if (record.tag === Tag.CancelRequest) decided.cancelRequested.push(c);
          }
          decided.result.cancelled.push("removed");
          break;
        }
        if (status !== Status.Claimed) {
          decided.ops.push({ tag: Tag.Cancel, id, at: now });
          decided.result.cancelled.push("removed");
          break;
        }
        if ((state.table.read(h).flags[slot(h)]! & Flag.CancelRequested) === 0) {
          decided.ops.push({ tag: Tag.CancelRequest, id });
          decided.cancelRequested.push(h);
        }
        decided.result.cancelled.push("requested");
        break;
      }
      case "kvPut":
        kv.set(op.key, op.value);
        decided.ops.push({ tag: Tag.KvPut, key: op.key, value: op.value });
        break;
      case "kvDelete":
        if (current(op.key) !== null) decided.ops.push({ tag: Tag.KvDelete, key: op.key });
        kv.set(op.key, null);
        break;
      case "kvCheck": {
        const found = current(op.key);
        if (!sameValue(found, op.expected))
          throw new ConflictError(
            `transaction ${what}: key ${describeValue(op.key)} ${
              found === null ? "is absent" : `holds ${found.byteLength} bytes`
            }, expected ${op.expected === null ? "it absent" : `${op.expected.byteLength} bytes`}${
              found !== null && op.expected !== null && found.byteLength === op.expected.byteLength
                ? " (different bytes)"
                : ""
            }; nothing was written`,
          );
        break;
      }
    }
  }
  return decided;
}
