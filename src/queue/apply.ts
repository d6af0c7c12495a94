/**
 * The single definition of every state transition: `apply(state, record)`,
 * used on the live path and when replaying the log. Pure and deterministic;
 * a record that does not fit the state is an {@link ApplyError} and changes
 * nothing. Bulk records (promotion, sweeps) carry a limit, so one `apply`
 * never moves more than {@link BULK_RECORD_JOBS} jobs on the live path.
 *
 * Enqueues are applied in `apply-enqueue.ts`, transactions in
 * `apply-tx.ts`; where a job sits in its status indexes is kept by
 * `placement.ts`.
 */
import { enqueue } from "./apply-enqueue.js";
import { applyTransaction } from "./apply-tx.js";
import { oldestDone } from "./done-order.js";
import {
  type ChildOutcome,
  childEnded,
  forgetRemovedChildren,
  isWaitingParent,
  placeRequeued,
  rejoinFlow,
  reopenDeadChildren,
  unlinkChildren,
} from "./flow-state.js";
import { groupOf } from "./groups.js";
import type { HandleIndex } from "./handle-index.js";
import { appendAttempt, type EncodedHistory } from "./history.js";
import {
  ApplyError,
  jobIn,
  place,
  releaseDedup,
  unindex,
  withExtras,
  withHistory,
} from "./placement.js";
import type { QueueState } from "./queue-state.js";
import type { QueueRecord } from "./records/codec.js";
import { Tag } from "./records/tags.js";
import { bury, firedUpToOnSet } from "./schedules/tombstones.js";
import { storedSchedule } from "./schedules/types.js";
import { type State, Status, type StatusCode } from "./state.js";
import { Flag, type JobExtras, slot } from "./table.js";
import type { AttemptOutcome, JobAttempt } from "./types.js";

export { MAX_HISTORY } from "./history.js";
export { ApplyError, place, releaseDedup, STATUS_NAMES, unindex, withExtras } from "./placement.js";

/**
 * The statuses each record accepts its job in (`jobIn`), made once rather
 * than per record, and frozen: shared by every record.
 */
const ONLY_PENDING: readonly StatusCode[] = Object.freeze([Status.Pending]);
const ONLY_SCHEDULED: readonly StatusCode[] = Object.freeze([Status.Scheduled]);
const ONLY_CLAIMED: readonly StatusCode[] = Object.freeze([Status.Claimed]);
const ONLY_DEAD: readonly StatusCode[] = Object.freeze([Status.Dead]);
const OPEN: readonly StatusCode[] = Object.freeze([Status.Pending, Status.Scheduled]);
const CANCELLABLE: readonly StatusCode[] = Object.freeze([
  Status.Pending,
  Status.Scheduled,
  Status.Claimed,
]);
const REMOVABLE: readonly StatusCode[] = Object.freeze([
  Status.Pending,
  Status.Scheduled,
  Status.Done,
  Status.Dead,
]);
/** A cancel's ending, as `remove` tells a flow parent by default (made once, frozen: shared). */
const CANCELLED: Readonly<ChildOutcome> = Object.freeze({ kind: "cancelled" });

/**
 * Removes job `h` from the state: indexes, dedup key, id index, payload
 * bytes, row. A flow parent hears of it as `ending` (a cancel unless said);
 * children that still name `h` lose the link. `extras` are its extras (the
 * caller's read of them, when it has one).
 */
function remove(
  state: State,
  h: number,
  ending: ChildOutcome = CANCELLED,
  extras: JobExtras | undefined = state.table.extras(h),
): void {
  // Read once: the steps below change only the flow links, never the fields read here
  // (a flow of 10,000 jobs removes each child in the same turn as its root).
  if (extras?.flowParent !== undefined) childEnded(state, h, ending);
  if (extras?.flow !== undefined) unlinkChildren(state, h);
  const ref = extras?.payloadRef;
  if (ref !== undefined) state.payloadGarbage.push(ref.key);
  unindex(state, h);
  if (extras?.dedupKey !== undefined) releaseDedup(state, h);
  const jobId = extras?.jobId;
  if (jobId !== undefined) state.jobIds.delete(jobId);
  state.ids.remove(h);
  const page = state.table.read(h);
  const i = slot(h);
  state.arena.release(page.payloadSegment[i]!, page.payloadLength[i]!);
  state.table.release(h);
}

/**
 * Dead job `h` → pending (attempts 0, lastError cleared), or, a flow parent
 * with children open, waiting for them; its dead children, which made it
 * dead, are requeued with it (at every depth), so the flow can complete.
 */
function requeue(state: State, h: number, at: number | undefined): void {
  unindex(state, h);
  const page = state.table.write(h);
  const failedAt = page.at[slot(h)]!;
  page.attempts[slot(h)] = 0;
  page.flags[slot(h)] = 0;
  const history = appendAttempt(state.table.extras(h)?.history, {
    attempt: 0,
    recordedAt: at ?? failedAt,
    outcome: "requeued",
  });
  withExtras(state, h, { lastError: undefined, history });
  forgetRemovedChildren(state, h);
  for (const child of reopenDeadChildren(state, h)) requeue(state, child, at);
  placeRequeued(state, h);
}

/** Job `h`'s history with the end of its current attempt (it is claimed) appended. */
function attempted(
  state: State,
  h: number,
  outcome: AttemptOutcome,
  recordedAt: number,
  error: string | undefined,
): EncodedHistory {
  const page = state.table.read(h);
  const i = slot(h);
  const entry: JobAttempt = {
    attempt: page.attempts[i]!,
    claimedAt: page.at[i]!,
    recordedAt,
    outcome,
  };
  if (error !== undefined) entry.error = error;
  return appendAttempt(state.table.extras(h)?.history, entry);
}

/**
 * Leaves the tombstone of job `h`, cancelled at `at`: its history ends with
 * the cancel (as an attempt of the claim it ended, when it was claimed, with
 * that attempt's `error` when it failed).
 */
function leaveTombstone(state: State, h: number, at: number, error: string | undefined): void {
  const page = state.table.read(h);
  const i = slot(h);
  const entry: JobAttempt = { attempt: page.attempts[i]!, recordedAt: at, outcome: "cancelled" };
  if (page.status[i] === Status.Claimed) entry.claimedAt = page.at[i]!;
  if (error !== undefined) entry.error = error;
  const history = appendAttempt(state.table.extras(h)?.history, entry);
  state.cancelled.add(state.publicIdOf(h), page.queue[i]!, at, history);
}

/** Remove, oldest first, up to `limit` jobs of `index` (ordered by `at`) whose `at` is below `before`. */
function sweep(state: State, index: HandleIndex, before: number, limit: number): void {
  for (let n = 0; n < limit; n++) {
    const oldest = index.min();
    if (oldest === -1 || state.table.read(oldest).at[slot(oldest)]! >= before) return;
    remove(state, oldest);
  }
}

/**
 * Remove, oldest first, up to `limit` kept done jobs of `qs` (with a result
 * or without, in one completion order) that completed before `before`.
 */
function sweepAllDone(state: State, qs: QueueState, before: number, limit: number): void {
  for (let n = 0; n < limit; n++) {
    const oldest = oldestDone(state, qs);
    if (oldest === -1 || state.table.read(oldest).at[slot(oldest)]! >= before) return;
    remove(state, oldest);
  }
}

/** Promote, soonest first, up to `limit` scheduled jobs of `qs` due by `upTo`. */
function promote(state: State, qs: QueueState, upTo: number, limit: number): void {
  for (let n = 0; n < limit; n++) {
    const next = qs.scheduled.min();
    if (next === -1 || state.table.read(next).at[slot(next)]! > upTo) return;
    qs.scheduled.shift();
    place(state, next, Status.Pending, 0);
  }
}

/**
 * The single definition of every state transition, used on the live path and
 * when replaying the log. Deterministic: depends only on `state` and `rec`.
 * Throws {@link ApplyError} (changing nothing) when the record does not fit.
 */
export function apply(state: State, rec: QueueRecord): void {
  switch (rec.tag) {
    case Tag.Enqueue:
      enqueue(state, rec);
      return;
    // Second: each case's tag is a property read and a comparison until one matches, and a
    // flow's removal applies 10,000 of these in one turn, in code not yet optimized.
    case Tag.Remove: {
      const h = jobIn(state, rec.id, REMOVABLE, "remove");
      // A waiting flow parent goes dead with its removed child (at the removal, when known);
      // a job outside flows tells no parent: no outcome is made for it.
      const extras = state.table.extras(h);
      remove(
        state,
        h,
        extras?.flowParent !== undefined
          ? { kind: "removed", at: rec.at ?? state.table.read(h).enqueuedAt[slot(h)]! }
          : CANCELLED,
        extras,
      );
      return;
    }
    case Tag.Claim: {
      const h = jobIn(state, rec.id, ONLY_PENDING, "claim");
      unindex(state, h);
      releaseDedup(state, h);
      state.table.write(h).attempts[slot(h)]! += 1;
      place(state, h, Status.Claimed, rec.at);
      state.queueOf(h).groups?.served(groupOf(state, h));
      return;
    }
    case Tag.Ack: {
      const h = jobIn(state, rec.id, ONLY_CLAIMED, "ack");
      if (rec.result !== undefined && !rec.keep)
        throw new ApplyError(`ack: job ${rec.id} has a result but is not kept`);
      // Only a flow's job tells a parent (no outcome made for the others).
      if (state.table.extras(h)?.flowParent !== undefined)
        childEnded(state, h, { kind: "done", result: rec.result });
      state.queueOf(h).doneCount += 1;
      if (!rec.keep) {
        remove(state, h);
        return;
      }
      const history = attempted(state, h, "completed", rec.at, undefined);
      unindex(state, h);
      if (rec.result === undefined && rec.progress === undefined)
        withHistory(state, h, history, undefined);
      else
        withExtras(state, h, {
          history,
          ...(rec.result === undefined ? {} : { result: Buffer.from(rec.result) }),
          ...(rec.progress === undefined ? {} : { progress: rec.progress }),
        });
      place(state, h, Status.Done, rec.at);
      return;
    }
    case Tag.Retry: {
      const h = jobIn(state, rec.id, ONLY_CLAIMED, "retry");
      const page = state.table.read(h);
      // Records of earlier releases carry no time: the claim's is the best there is.
      const at = rec.at ?? page.at[slot(h)]!;
      const history = attempted(state, h, rec.cause ?? "retried", at, rec.error);
      unindex(state, h);
      if (rec.progress === undefined) withHistory(state, h, history, rec.error);
      else
        withExtras(state, h, {
          history,
          ...(rec.error === undefined ? {} : { lastError: rec.error }),
          progress: rec.progress,
        });
      if (rec.runAt === undefined) place(state, h, Status.Pending, 0);
      else place(state, h, Status.Scheduled, rec.runAt);
      return;
    }
    case Tag.Dead: {
      const h = jobIn(state, rec.id, ONLY_CLAIMED, "dead");
      const history = attempted(state, h, rec.cause ?? "dead_lettered", rec.at, rec.reason);
      unindex(state, h);
      withExtras(state, h, {
        lastError: rec.reason,
        history,
        ...(rec.progress === undefined ? {} : { progress: rec.progress }),
      });
      place(state, h, Status.Dead, rec.at);
      childEnded(state, h, { kind: "dead", reason: rec.reason, at: rec.at });
      return;
    }
    case Tag.Promote:
      for (const qs of state.queueList) promote(state, qs, rec.upTo, Number.POSITIVE_INFINITY);
      return;
    case Tag.PromoteSome: {
      const qs = state.queues.get(rec.queue);
      if (qs !== undefined) promote(state, qs, rec.upTo, rec.limit);
      return;
    }
    case Tag.Cancel: {
      const h = jobIn(state, rec.id, CANCELLABLE, "cancel");
      // A cancel of an earlier release carries no time: it leaves no tombstone.
      if (rec.at !== undefined) leaveTombstone(state, h, rec.at, rec.error);
      remove(state, h);
      return;
    }
    case Tag.CancelRequest: {
      const h = jobIn(state, rec.id, ONLY_CLAIMED, "cancel request");
      state.table.write(h).flags[slot(h)]! |= Flag.CancelRequested;
      return;
    }
    case Tag.RequeueDead: {
      const h = jobIn(state, rec.id, ONLY_DEAD, "requeue");
      // A flow's job rejoins its flow, and brings its dead children back with it.
      rejoinFlow(state, h);
      requeue(state, h, rec.at);
      return;
    }
    case Tag.Release: {
      const h = jobIn(state, rec.id, ONLY_CLAIMED, "release");
      unindex(state, h);
      const page = state.table.write(h);
      page.attempts[slot(h)] = Math.max(0, page.attempts[slot(h)]! - 1);
      place(state, h, Status.Pending, 0);
      return;
    }
    case Tag.Wake: {
      const h = jobIn(state, rec.id, ONLY_SCHEDULED, "wake");
      if (isWaitingParent(state, h))
        throw new ApplyError(`wake: job ${rec.id} waits for its flow's children`);
      unindex(state, h);
      place(state, h, Status.Pending, 0);
      return;
    }
    case Tag.PauseQueue:
      state.queue(rec.queue).paused = rec.paused;
      return;
    case Tag.SweepDone:
    case Tag.SweepDoneSome: {
      const qs = state.queues.get(rec.queue);
      const limit = rec.tag === Tag.SweepDone ? Number.POSITIVE_INFINITY : rec.limit;
      if (qs !== undefined) sweepAllDone(state, qs, rec.before, limit);
      return;
    }
    case Tag.SweepDoneNoResultSome: {
      const qs = state.queues.get(rec.queue);
      if (qs !== undefined) sweep(state, qs.doneNoResult, rec.before, rec.limit);
      return;
    }
    case Tag.SweepDead:
    case Tag.SweepDeadSome: {
      const qs = state.queues.get(rec.queue);
      const limit = rec.tag === Tag.SweepDead ? Number.POSITIVE_INFINITY : rec.limit;
      if (qs !== undefined) sweep(state, qs.deadByTime, rec.before, limit);
      return;
    }
    case Tag.SweepCancelledSome: {
      const qs = state.queues.get(rec.queue);
      if (qs !== undefined) state.cancelled.sweep(qs.index, rec.before, rec.limit);
      return;
    }
    case Tag.ScheduleSet: {
      const { name, setAt } = rec.schedule;
      // A replaced (or removed and created again) schedule never fires a time its
      // predecessor accounted for.
      const previous = state.schedules.get(name);
      const firedUpTo = firedUpToOnSet(state.scheduleTombstones, previous, name, setAt);
      state.schedules.set(name, storedSchedule(rec.schedule, firedUpTo));
      return;
    }
    case Tag.Unschedule: {
      const schedule = state.schedules.get(rec.name);
      if (schedule === undefined)
        throw new ApplyError(`unschedule: no schedule ${JSON.stringify(rec.name)}`);
      state.schedules.delete(rec.name);
      bury(state.scheduleTombstones, schedule);
      return;
    }
    case Tag.ScheduleFire: {
      const schedule = state.schedules.get(rec.name);
      if (schedule === undefined)
        throw new ApplyError(`schedule fire: no schedule ${JSON.stringify(rec.name)}`);
      if (rec.fireAt <= schedule.firedUpTo)
        throw new ApplyError(
          `schedule fire: ${JSON.stringify(rec.name)} at ${rec.fireAt} is not after its last fire ${schedule.firedUpTo}`,
        );
      if (rec.job !== undefined) enqueue(state, rec.job);
      state.schedules.set(rec.name, storedSchedule(schedule, rec.fireAt));
      return;
    }
    case Tag.Replace: {
      const h = jobIn(state, rec.id, OPEN, "replace");
      unindex(state, h);
      const page = state.table.write(h);
      const i = slot(h);
      state.arena.release(page.payloadSegment[i]!, page.payloadLength[i]!);
      page.payloadSegment[i] = state.arena.write(rec.payload);
      page.payloadOffset[i] = state.arena.offset;
      page.payloadLength[i] = rec.payload.byteLength;
      // The replaced payload's object, if it had one, goes once this is durable; an
      // offloaded replacement's own object is what the job references from now on.
      const ref = state.table.extras(h)?.payloadRef;
      if (ref !== undefined && ref.key !== rec.payloadRef?.key) state.payloadGarbage.push(ref.key);
      withExtras(state, h, { headers: rec.headers, payloadRef: rec.payloadRef });
      if (rec.runAt === undefined) place(state, h, Status.Pending, 0);
      else place(state, h, Status.Scheduled, rec.runAt);
      return;
    }
    case Tag.KvPut:
      state.kv.set(rec.key, rec.value);
      return;
    case Tag.KvDelete:
      state.kv.delete(rec.key);
      return;
    case Tag.Transaction:
      applyTransaction(state, rec, apply);
      return;
  }
}
