/**
 * Checks of the queue's whole option bags — `enqueue` (completed from the
 * queue's configuration), `claim`, `listQueues`, `deadJobs` — built on the
 * value checks of `validate.ts`.
 */
import {
  checkBoolean,
  checkDuration,
  checkInteger,
  checkOptionalSignal,
  checkOptionsObject,
  checkPositiveDuration,
  checkString,
  invalidArgument,
} from "../validate.js";
import {
  type ClaimOptions,
  DEAD_JOBS_KEYS,
  DEFAULT_DEAD_JOBS_LIMIT,
  type DeadJobsOptions,
  type EnqueueOptions,
  LIST_QUEUES_KEYS,
  type ListQueuesOptions,
  type QueueConfig,
} from "./options.js";
import type { Headers } from "./state.js";
import {
  checkDedupKey,
  checkGroupKey,
  checkHeaders,
  checkJobId,
  checkMaxAttempts,
  checkPriority,
  checkTimestamp,
} from "./validate.js";

/** `enqueue` options, checked and completed from the queue's configuration. */
export interface CheckedEnqueueOptions {
  priority: number;
  maxAttempts: number;
  runAt: number | undefined;
  dedupKey: string | undefined;
  headers: Headers | undefined;
  jobId: string | undefined;
  /** Run this long after the enqueue (decided when it is written). */
  delayMs: number | undefined;
  timeoutMs: number | undefined;
  /** On a dedup hit, replace the waiting job's payload, headers and run time. */
  dedupReplace: boolean;
  /** Fairness group within the queue. */
  groupKey: string | undefined;
}

export function checkEnqueueOptions(
  options: EnqueueOptions,
  config: Readonly<QueueConfig>,
  arg = "options",
): CheckedEnqueueOptions {
  const o = options;
  if (o.runAt !== undefined && o.delayMs !== undefined)
    throw invalidArgument(`${arg}.delayMs`, `absent when \`${arg}.runAt\` is given`, o.delayMs);
  return {
    jobId: o.jobId === undefined ? undefined : checkJobId(o.jobId, `${arg}.jobId`),
    delayMs: o.delayMs === undefined ? undefined : checkDuration(o.delayMs, `${arg}.delayMs`),
    priority:
      o.priority === undefined
        ? config.defaultPriority
        : checkPriority(o.priority, `${arg}.priority`),
    maxAttempts:
      o.maxAttempts === undefined
        ? config.maxAttempts
        : checkMaxAttempts(o.maxAttempts, `${arg}.maxAttempts`),
    runAt: o.runAt === undefined ? undefined : checkTimestamp(o.runAt, `${arg}.runAt`),
    dedupKey: o.dedupKey === undefined ? undefined : checkDedupKey(o.dedupKey, `${arg}.dedupKey`),
    headers: checkHeaders(o.headers, `${arg}.headers`),
    timeoutMs:
      o.timeoutMs === undefined
        ? undefined
        : checkPositiveDuration(o.timeoutMs, `${arg}.timeoutMs`),
    dedupReplace: checkDedupReplace(o, arg),
    groupKey: o.groupKey === undefined ? undefined : checkGroupKey(o.groupKey, `${arg}.groupKey`),
  };
}

/**
 * Whether `options` sets none of the enqueue options (each is `undefined`):
 * then {@link checkEnqueueOptions} would give the queue's defaults. Reads
 * the same fields it does; keep the two in step.
 */
export function setsNoEnqueueOption(options: EnqueueOptions): boolean {
  const o = options;
  return (
    o.jobId === undefined &&
    o.delayMs === undefined &&
    o.priority === undefined &&
    o.maxAttempts === undefined &&
    o.runAt === undefined &&
    o.dedupKey === undefined &&
    o.headers === undefined &&
    o.timeoutMs === undefined &&
    o.dedupReplace === undefined &&
    o.groupKey === undefined
  );
}

function checkDedupReplace(o: EnqueueOptions, arg: string): boolean {
  if (o.dedupReplace === undefined) return false;
  const replace = checkBoolean(o.dedupReplace, `${arg}.dedupReplace`);
  if (replace && o.dedupKey === undefined)
    throw invalidArgument(
      `${arg}.dedupReplace`,
      `true only with \`${arg}.dedupKey\` (it replaces the job holding that key)`,
      o.dedupReplace,
    );
  return replace;
}

/** `claim` options, checked; the lease defaults to the queue's. */
export function checkClaimOptions(
  options: ClaimOptions,
  config: Readonly<QueueConfig>,
): { leaseMs: number; waitMs: number; signal: AbortSignal | undefined } {
  checkOptionsObject(options, "options");
  return {
    leaseMs:
      options.leaseMs === undefined
        ? config.leaseMs
        : checkPositiveDuration(options.leaseMs, "options.leaseMs"),
    waitMs: options.waitMs === undefined ? 0 : checkDuration(options.waitMs, "options.waitMs"),
    signal: checkOptionalSignal(options.signal, "options.signal"),
  };
}

/** Validated `listQueues` options: whether queues paused before their first job are listed too. */
export function checkListQueuesOptions(options: ListQueuesOptions): { includePaused: boolean } {
  checkOptionsObject(options, "options", LIST_QUEUES_KEYS);
  const { includePaused = false } = options;
  return { includePaused: checkBoolean(includePaused, "options.includePaused") };
}

/** Validated `deadJobs` options: an optional exclusive id cursor and a page size ≥ 0. */
export function checkDeadJobsOptions(options: DeadJobsOptions): {
  after: string | undefined;
  limit: number;
} {
  checkOptionsObject(options, "options", DEAD_JOBS_KEYS);
  const { after, limit = DEFAULT_DEAD_JOBS_LIMIT } = options;
  const page = checkInteger(limit, "options.limit", 0, Infinity);
  return {
    after: after === undefined ? undefined : checkString(after, "options.after"),
    limit: page,
  };
}
