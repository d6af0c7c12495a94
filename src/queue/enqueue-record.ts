/**
 * A checked job's enqueue record: how its options become record fields. One
 * builder for `enqueueJobs` and a transaction's `tx.enqueue`, so the same
 * job is written as the same record by either.
 */
import type { CheckedJob } from "./enqueue.js";
import type { EnqueueRecord } from "./records/enqueue.js";
import { Tag } from "./records/tags.js";
import type { PayloadRef } from "./table.js";
import type { CheckedEnqueueOptions } from "./validate-options.js";

/** The inline payload of a record whose payload is offloaded. */
const EMPTY = new Uint8Array(0);

/** The payload a record carries inline: none when it was offloaded to `payloadRef`. */
export function inlinePayload(payload: Uint8Array, payloadRef: PayloadRef | undefined): Uint8Array {
  return payloadRef === undefined ? payload : EMPTY;
}

/**
 * When a job enqueued at `now` with `options` runs: its `delayMs` after
 * `now`, or its `runAt`, if that is later than `now`; `undefined` when it is
 * pending at once.
 */
export function scheduledRunAt(options: CheckedEnqueueOptions, now: number): number | undefined {
  const runAt = options.delayMs !== undefined ? now + options.delayMs : options.runAt;
  return runAt !== undefined && runAt > now ? runAt : undefined;
}

/**
 * The record that adds `job` to `queue` under log id `id`, enqueued at
 * `now`: scheduled when its run time is later (see {@link scheduledRunAt}),
 * its payload inline unless `payloadRef` holds it. A flow job also names its
 * parent's log id (`flowParent`) and whether it waits for children of its own.
 */
export function enqueueRecordOf(
  id: string,
  queue: string,
  job: CheckedJob,
  payloadRef: PayloadRef | undefined,
  now: number,
  flowParent: string | undefined = undefined,
  waitsForChildren = false,
): EnqueueRecord {
  const { options } = job;
  // Every field, in one order, whatever the job sets: every enqueue record has one hidden
  // class, so the apply's code stays optimized when a flow's records (with `flowParent`)
  // follow plain ones, rather than starting over unoptimized on a new shape.
  return {
    tag: Tag.Enqueue,
    id,
    queue,
    payload: inlinePayload(job.payload, payloadRef),
    payloadRef,
    headers: options.headers,
    trace: job.trace,
    priority: options.priority,
    maxAttempts: options.maxAttempts,
    enqueuedAt: now,
    runAt: scheduledRunAt(options, now),
    dedupKey: options.dedupKey,
    jobId: options.jobId,
    timeoutMs: options.timeoutMs,
    groupKey: options.groupKey,
    flowParent,
    waitsForChildren: waitsForChildren ? true : undefined,
  };
}
