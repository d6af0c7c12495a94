/**
 * Read-only views of the state, shared by the writer (`Queue`) and the
 * read-only `QueueReader`, so both answer the same question the same way.
 */
import { type Job, type State, Status } from "./state.js";
import type { JobRecord, JobStatus, QueueStats } from "./types.js";

const STATUS_NAMES: readonly JobStatus[] = ["pending", "scheduled", "claimed", "done", "dead"];

/** The public record of an in-memory job. `leaseExpiresAt` comes from the writer's lease table. */
export function jobToRecord(job: Job, leaseExpiresAt?: number): JobRecord {
  const record: JobRecord = {
    id: job.id,
    queue: job.queue.name,
    payload: Buffer.from(job.payload, "latin1"),
    headers: job.headers === undefined ? {} : { ...job.headers },
    status: STATUS_NAMES[job.status]!,
    attempts: job.attempts,
    maxAttempts: job.maxAttempts,
    enqueuedAt: job.enqueuedAt,
    priority: job.priority,
  };
  switch (job.status) {
    case Status.Claimed:
      record.claimedAt = job.at;
      if (leaseExpiresAt !== undefined) record.leaseExpiresAt = leaseExpiresAt;
      break;
    case Status.Scheduled:
      record.runAt = job.at;
      break;
    case Status.Done:
      record.completedAt = job.at;
      break;
    case Status.Dead:
      record.failedAt = job.at;
      break;
  }
  if (job.lastError !== undefined) record.lastError = job.lastError;
  if (job.dedupKey !== undefined) record.dedupKey = job.dedupKey;
  return record;
}

/** Counters of one queue (zeros for a queue that never held a job). */
export function queueStats(state: State, name: string): QueueStats {
  const qs = state.queues.get(name);
  if (qs === undefined)
    return { queue: name, pending: 0, claimed: 0, done: 0, dead: 0, scheduled: 0 };
  return {
    queue: name,
    pending: qs.pending.size,
    claimed: qs.claimed.size,
    done: qs.doneCount,
    dead: qs.deadById.size,
    scheduled: qs.scheduled.size,
  };
}

/** Every queue that ever held a job, sorted. */
export function queueNames(state: State): string[] {
  return [...state.queues.keys()].sort();
}

/** Up to `limit` dead jobs of `name` in id order, strictly after the id `after`. */
export function deadJobsPage(
  state: State,
  name: string,
  after: string | undefined,
  limit: number,
): Job[] {
  const qs = state.queues.get(name);
  const page: Job[] = [];
  if (qs === undefined || limit === 0) return page;
  for (const [id, job] of qs.deadById.entries(after)) {
    if (id === after) continue;
    page.push(job);
    if (page.length >= limit) break;
  }
  return page;
}
