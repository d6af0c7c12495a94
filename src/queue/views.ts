/**
 * Read-only views of the state, shared by the writer (`Queue`) and the
 * read-only `QueueReader`, so both answer the same question the same way.
 * Public job records are materialised from the table's columns on demand.
 */

import { decodeHistory } from "./history.js";
import { walkById } from "./listing.js";
import { type Headers, type State, Status } from "./state.js";
import { Flag, type Page, slot, TRACE_STRIDE } from "./table.js";
import { TRACEPARENT, traceParentOf } from "./trace-context.js";

/** Priority groups of the pending index walked to find the oldest pending job (each step O(log n)). */
const MAX_PRIORITY_GROUPS = 1_000;

import type {
  Completion,
  JobAttempt,
  JobRecord,
  JobStatus,
  JsonValue,
  QueueStats,
} from "./types.js";

/**
 * A copy of a job's headers, with the `traceparent` of its stored trace
 * context (made now, from its bytes) unless the headers carry one already
 * (a job written by an earlier release kept it as a header).
 */
function headersOf(page: Page, i: number, headers: Headers | undefined): Record<string, string> {
  const out: Record<string, string> = headers === undefined ? {} : { ...headers };
  const column = page.trace;
  const at = i * TRACE_STRIDE;
  if (column !== null && column[at] === 1 && out[TRACEPARENT] === undefined)
    out[TRACEPARENT] = traceParentOf(column, at + 1);
  return out;
}

const STATUS_NAMES: readonly JobStatus[] = ["pending", "scheduled", "claimed", "done", "dead"];

/**
 * The public record of job `h`. `leaseExpiresAt` and the live `progress`
 * (JSON text) come from the writer's lease table. `id` is the job's
 * generated id as a string, when the caller made it already.
 */
export function jobToRecord(
  state: State,
  h: number,
  leaseExpiresAt?: number,
  progress?: string,
  id?: string,
): JobRecord {
  const page = state.table.read(h);
  const i = slot(h);
  const status = page.status[i]!;
  const at = page.at[i]!;
  const extras = page.extras?.[i];
  const record: JobRecord = {
    id: extras?.jobId ?? id ?? state.idOf(h),
    queue: state.queueList[page.queue[i]!]!.name,
    payload: state.payloadOf(h),
    headers: headersOf(page, i, extras?.headers),
    status: STATUS_NAMES[status]!,
    attempts: page.attempts[i]!,
    maxAttempts: page.maxAttempts[i]!,
    enqueuedAt: page.enqueuedAt[i]!,
    priority: page.priority[i]!,
  };
  switch (status) {
    case Status.Claimed:
      record.claimedAt = at;
      if (leaseExpiresAt !== undefined) record.leaseExpiresAt = leaseExpiresAt;
      break;
    case Status.Scheduled:
      if (page.flags[i]! & Flag.WaitingChildren)
        record.waitingChildren = extras?.flow?.waiting ?? 0;
      else record.runAt = at;
      break;
    case Status.Done:
      record.completedAt = at;
      break;
    case Status.Dead:
      record.failedAt = at;
      break;
  }
  if (extras?.lastError !== undefined) record.lastError = extras.lastError;
  if (extras?.dedupKey !== undefined) record.dedupKey = extras.dedupKey;
  if (extras?.result !== undefined) record.result = Buffer.from(extras.result);
  if (extras?.timeoutMs !== undefined) record.timeoutMs = extras.timeoutMs;
  if (extras?.groupKey !== undefined) record.groupKey = extras.groupKey;
  const json = progress ?? extras?.progress;
  if (json !== undefined) record.progress = JSON.parse(json) as JsonValue;
  if (extras?.payloadRef !== undefined) {
    record.payloadRef = extras.payloadRef.key;
    record.payloadSize = extras.payloadRef.size;
  }
  return record;
}

/**
 * How the attempts at job `id` ended, oldest first (a cancelled job's, from
 * its tombstone, end with the cancel); empty for an unknown id.
 */
export function attemptHistoryOf(state: State, id: string): JobAttempt[] {
  const h = state.findPublic(id);
  if (h === -1) return state.cancelled.get(id)?.history ?? [];
  const history = state.table.extras(h)?.history;
  return history === undefined ? [] : decodeHistory(history);
}

/** What is left of a cancelled job (its tombstone), as `QueueReader.cancelledJob` shows it. */
export interface CancelledJobInfo {
  /** The job's id. */
  readonly id: string;
  /** The queue it was in. */
  readonly queue: string;
  /** When it was cancelled (wall time of the cancel record). */
  readonly cancelledAt: number;
  /** How its attempts ended, oldest first, ending with `cancelled`. */
  readonly history: JobAttempt[];
}

/**
 * The tombstone of job `id` if it was cancelled and is still remembered
 * (for its queue's `resultRetentionMs`) and the id is not in use again.
 */
export function cancelledJobOf(state: State, id: string): CancelledJobInfo | undefined {
  if (state.findPublic(id) !== -1) return undefined;
  const tombstone = state.cancelled.get(id);
  if (tombstone === undefined) return undefined;
  return {
    id: tombstone.id,
    queue: state.queueList[tombstone.queue]!.name,
    cancelledAt: tombstone.at,
    history: tombstone.history,
  };
}

/**
 * How job `id` ended if it did (done, dead, or cancelled and still
 * remembered by its tombstone), else `undefined` (also for an unknown id).
 */
export function completionOfJob(state: State, id: string): Completion | undefined {
  const h = state.findPublic(id);
  if (h === -1) return state.cancelled.has(id) ? { status: "cancelled" } : undefined;
  const extras = state.table.extras(h);
  switch (state.statusOf(h)) {
    case Status.Done:
      return extras?.result === undefined
        ? { status: "done" }
        : { status: "done", result: Buffer.from(extras.result) };
    case Status.Dead:
      return { status: "dead", error: extras?.lastError ?? "" };
    default:
      return undefined;
  }
}

/** Counters of one queue (zeros for a queue that never held a job). */
export function queueStats(state: State, name: string): QueueStats {
  const qs = state.queues.get(name);
  if (qs === undefined)
    return { queue: name, pending: 0, claimed: 0, done: 0, dead: 0, scheduled: 0, paused: false };
  return {
    queue: name,
    pending: qs.pending.size,
    claimed: qs.claimed.size,
    done: qs.doneCount,
    dead: qs.deadById.size,
    scheduled: qs.scheduled.size,
    paused: qs.paused,
  };
}

/**
 * Every queue that ever held a job, sorted (not one only `pauseQueue` named,
 * unless `includePaused` and it is paused).
 */
export function queueNames(state: State, includePaused = false): string[] {
  const names: string[] = [];
  for (const qs of state.queueList)
    if (qs.heldJob || (includePaused && qs.paused)) names.push(qs.name);
  return names.sort();
}

/**
 * Up to `limit` dead jobs of `name` in id order (see `jobs-by-id.ts`) whose
 * public id sorts after `after`: a plain exclusive bound, any string (the
 * id of a job the store holds, of one removed meanwhile, or none); an empty
 * one, like none, lists from the first. A long listing goes on after the
 * last id it listed.
 */
export function deadJobsPage(
  state: State,
  name: string,
  after: string | undefined,
  limit: number,
): number[] {
  const qs = state.queues.get(name);
  const page: number[] = [];
  if (qs === undefined || limit === 0) return page;
  walkById(state, qs.deadById, after === undefined || after === "" ? null : after, (h) => {
    page.push(h);
    return page.length < limit;
  });
  return page;
}

/**
 * `enqueuedAt` of the oldest pending job of `name` (lowest id), or undefined
 * when none is pending. Pending jobs are ordered by priority, then id, so the
 * oldest is the first of one of the priority groups: this visits the first
 * job of each group, up to {@link MAX_PRIORITY_GROUPS} groups (the highest
 * priorities), in O(groups · log n).
 */
export function oldestPendingEnqueuedAt(state: State, name: string): number | undefined {
  const pending = state.queues.get(name)?.pending;
  if (pending === undefined || pending.size === 0) return undefined;
  const priority = (h: number): number => state.table.read(h).priority[slot(h)]!;
  const enqueuedAt = (h: number): number => state.table.read(h).enqueuedAt[slot(h)]!;
  let h = pending.min();
  let oldest = enqueuedAt(h);
  for (let groups = 1; groups < MAX_PRIORITY_GROUPS; groups++) {
    // The first handle past every job of this priority is the next group's first job.
    const p = priority(h);
    h = pending.next(pending.seek((other) => priority(other) <= p));
    if (h < 0) break;
    oldest = Math.min(oldest, enqueuedAt(h));
  }
  return oldest;
}
