/**
 * The single definition of every state transition: `apply(state, record)`,
 * used on the live path and when replaying the log. Pure and deterministic;
 * a record that does not fit the state is an {@link ApplyError}.
 */
import { type QueueRecord, Tag } from "./records.js";
import { Job, type QueueState, type State, Status, type StatusCode } from "./state.js";

/** A record that does not fit the state it is applied to (a bug, or a damaged log). */
export class ApplyError extends Error {
  override name = "ApplyError";
}

const STATUS_NAMES = ["pending", "scheduled", "claimed", "done", "dead"] as const;

function jobIn(state: State, id: string, allowed: readonly StatusCode[], what: string): Job {
  const job = state.jobs.get(id);
  if (job === undefined) throw new ApplyError(`${what}: no job ${id}`);
  if (!allowed.includes(job.status))
    throw new ApplyError(`${what}: job ${id} is ${STATUS_NAMES[job.status]}`);
  return job;
}

/** Take a job out of the index of its current status (the job object is unchanged). */
function unindex(job: Job): void {
  const qs = job.queue;
  switch (job.status) {
    case Status.Pending:
      qs.pending.delete(job);
      return;
    case Status.Scheduled:
      qs.scheduled.delete(job);
      return;
    case Status.Claimed:
      qs.claimed.delete(job);
      return;
    case Status.Done:
      qs.done.delete(job);
      return;
    case Status.Dead:
      qs.deadById.delete(job.id);
      qs.deadByTime.delete(job);
      return;
  }
}

function toPending(job: Job): void {
  job.status = Status.Pending;
  job.at = 0;
  job.queue.pending.set(job, undefined);
}

function toScheduled(job: Job, runAt: number): void {
  job.status = Status.Scheduled;
  job.at = runAt;
  job.queue.scheduled.set(job, undefined);
}

function toDead(job: Job, failedAt: number, reason: string): void {
  job.status = Status.Dead;
  job.at = failedAt;
  job.lastError = reason;
  job.queue.deadById.set(job.id, job);
  job.queue.deadByTime.set(job, undefined);
}

function remove(state: State, job: Job): void {
  unindex(job);
  releaseDedup(job);
  state.jobs.delete(job.id);
}

function releaseDedup(job: Job): void {
  if (job.dedupKey === undefined) return;
  if (job.queue.dedup.get(job.dedupKey) === job) job.queue.dedup.delete(job.dedupKey);
  job.dedupKey = undefined;
}

/** Remove, oldest first, every job of `tree` whose `at` is below `before`. */
function sweep(state: State, tree: QueueState["done"], before: number): void {
  for (;;) {
    const oldest = tree.minKey();
    if (oldest === undefined || oldest.at >= before) return;
    remove(state, oldest);
  }
}

/**
 * The single definition of every state transition, used on the live path and
 * when replaying the log. Deterministic: depends only on `state` and `rec`.
 * Throws {@link ApplyError} (changing nothing) when the record does not fit.
 */
export function apply(state: State, rec: QueueRecord): void {
  switch (rec.tag) {
    case Tag.Enqueue: {
      if (state.jobs.has(rec.id)) throw new ApplyError(`enqueue: duplicate job id ${rec.id}`);
      const qs = state.queue(rec.queue);
      if (rec.dedupKey !== undefined && qs.dedup.has(rec.dedupKey))
        throw new ApplyError(`enqueue: dedup key of ${rec.id} is held`);
      const job = new Job(
        rec.id,
        qs,
        rec.payload,
        rec.headers,
        Status.Pending,
        0,
        rec.maxAttempts,
        rec.priority,
        rec.enqueuedAt,
        0,
        undefined,
        rec.dedupKey,
        false,
      );
      state.jobs.set(rec.id, job);
      if (state.lastId === null || rec.id > state.lastId) state.lastId = rec.id;
      if (rec.dedupKey !== undefined) qs.dedup.set(rec.dedupKey, job);
      if (rec.runAt === undefined) toPending(job);
      else toScheduled(job, rec.runAt);
      return;
    }
    case Tag.Claim: {
      const job = jobIn(state, rec.id, [Status.Pending], "claim");
      unindex(job);
      releaseDedup(job);
      job.status = Status.Claimed;
      job.attempts += 1;
      job.at = rec.at;
      job.queue.claimed.add(job);
      return;
    }
    case Tag.Ack: {
      const job = jobIn(state, rec.id, [Status.Claimed], "ack");
      job.queue.doneCount += 1;
      if (!rec.keep) {
        remove(state, job);
        return;
      }
      unindex(job);
      job.status = Status.Done;
      job.at = rec.at;
      job.queue.done.set(job, undefined);
      return;
    }
    case Tag.Retry: {
      const job = jobIn(state, rec.id, [Status.Claimed], "retry");
      unindex(job);
      if (rec.error !== undefined) job.lastError = rec.error;
      if (rec.runAt === undefined) toPending(job);
      else toScheduled(job, rec.runAt);
      return;
    }
    case Tag.Dead: {
      const job = jobIn(state, rec.id, [Status.Claimed], "dead");
      unindex(job);
      toDead(job, rec.at, rec.reason);
      return;
    }
    case Tag.Promote: {
      for (const qs of state.queues.values()) {
        for (;;) {
          const next = qs.scheduled.minKey();
          if (next === undefined || next.at > rec.upTo) break;
          qs.scheduled.delete(next);
          toPending(next);
        }
      }
      return;
    }
    case Tag.Cancel: {
      const job = jobIn(
        state,
        rec.id,
        [Status.Pending, Status.Scheduled, Status.Claimed],
        "cancel",
      );
      remove(state, job);
      return;
    }
    case Tag.CancelRequest: {
      const job = jobIn(state, rec.id, [Status.Claimed], "cancel request");
      job.cancelRequested = true;
      return;
    }
    case Tag.RequeueDead: {
      const job = jobIn(state, rec.id, [Status.Dead], "requeue");
      unindex(job);
      job.attempts = 0;
      job.lastError = undefined;
      job.cancelRequested = false;
      toPending(job);
      return;
    }
    case Tag.Release: {
      const job = jobIn(state, rec.id, [Status.Claimed], "release");
      unindex(job);
      job.attempts = Math.max(0, job.attempts - 1);
      toPending(job);
      return;
    }
    case Tag.SweepDone: {
      const qs = state.queues.get(rec.queue);
      if (qs !== undefined) sweep(state, qs.done, rec.before);
      return;
    }
    case Tag.SweepDead: {
      const qs = state.queues.get(rec.queue);
      if (qs !== undefined) sweep(state, qs.deadByTime, rec.before);
      return;
    }
  }
}
