/** Where a job sits in the state: its status index (placed, taken out), its extras and dedup key; and the error for a record that does not fit. */
import { doneIndexOf } from "./done-order.js";
import { groupOf, groupUngrouped } from "./groups.js";
import type { EncodedHistory } from "./history.js";
import { type State, Status, type StatusCode } from "./state.js";
import { type JobExtras, slot } from "./table.js";

/** A record that does not fit the state it is applied to (a bug, or a damaged log). */
export class ApplyError extends Error {
  override name = "ApplyError";
}

export const STATUS_NAMES = ["pending", "scheduled", "claimed", "done", "dead"] as const;

/** The handle of job `id`, which must be in one of the `allowed` statuses for `what`. */
export function jobIn(
  state: State,
  id: string,
  allowed: readonly StatusCode[],
  what: string,
): number {
  const h = state.findNamed(id);
  if (h === -1) throw new ApplyError(`${what}: no job ${id}`);
  const status = state.statusOf(h);
  if (!allowed.includes(status))
    throw new ApplyError(`${what}: job ${id} is ${STATUS_NAMES[status]}`);
  return h;
}

/** Take job `h` out of the index of its current status (its row is unchanged). */
export function unindex(state: State, h: number): void {
  const qs = state.queueOf(h);
  switch (state.statusOf(h)) {
    case Status.Pending:
      qs.pending.delete(h);
      qs.groups?.removePending(groupOf(state, h), h);
      return;
    case Status.Scheduled:
      qs.scheduled.delete(h);
      return;
    case Status.Claimed:
      qs.claimed.delete(h);
      qs.groups?.removeClaimed(groupOf(state, h));
      return;
    case Status.Done:
      doneIndexOf(state, qs, h).delete(h);
      return;
    case Status.Dead:
      qs.deadById.delete(h);
      qs.deadByTime.delete(h);
      return;
  }
}

/**
 * Sets status and `at` of job `h` (already out of every index) and puts it in
 * that status's index. `grouped`: whether the job has a group key, when the
 * caller knows (a new job's apply); else read from its extras.
 */
export function place(
  state: State,
  h: number,
  status: StatusCode,
  at: number,
  grouped?: boolean,
): void {
  const page = state.table.write(h);
  const i = slot(h);
  page.status[i] = status;
  page.at[i] = at;
  const qs = state.queueList[page.queue[i]!]!;
  if (
    qs.groups === null &&
    (status === Status.Pending || status === Status.Claimed) &&
    (grouped ?? state.table.extras(h)?.groupKey !== undefined)
  )
    groupUngrouped(state, qs); // the queue's first grouped job: what it holds has no group
  switch (status) {
    case Status.Pending:
      qs.pending.insert(h);
      qs.groups?.addPending(groupOf(state, h), h);
      return;
    case Status.Scheduled:
      qs.scheduled.insert(h);
      return;
    case Status.Claimed:
      qs.claimed.insert(h);
      qs.groups?.addClaimed(groupOf(state, h));
      return;
    case Status.Done:
      doneIndexOf(state, qs, h).insert(h);
      return;
    case Status.Dead:
      qs.deadById.insert(h);
      qs.deadByTime.insert(h);
      return;
  }
}

export function withExtras(state: State, h: number, change: JobExtras): void {
  state.table.setExtras(h, { ...state.table.extras(h), ...change });
}

/**
 * Sets the extras of job `h` at the end of an attempt: `history`, and
 * `lastError` unless undefined, over its other extras. A job that held none
 * takes the extras the last such job took when they are equal (frozen and
 * shared, as `groupOnlyExtras` are): the jobs of a claim batch that end
 * alike (acked and kept, requeued at a writer's open) share one object and
 * one history string instead of two each, which outlived young-generation
 * collections (100,000 requeued claims: some 10 MB copied by them).
 */
export function withHistory(
  state: State,
  h: number,
  history: EncodedHistory,
  lastError: string | undefined,
): void {
  if (state.table.extras(h) !== undefined) {
    withExtras(state, h, lastError === undefined ? { history } : { history, lastError });
    return;
  }
  let extras = state.lastHistoryExtras;
  // Equal histories mean equal lastError (the last entry holds the error as recorded: messages
  // are normalised by `checkMessage` before any record reaches `apply`), so history decides.
  if (extras === null || extras.history !== history) {
    extras = Object.freeze(lastError === undefined ? { history } : { history, lastError });
    state.lastHistoryExtras = extras;
  }
  state.table.putExtras(h, extras);
}

export function releaseDedup(state: State, h: number): void {
  const extras = state.table.extras(h);
  const key = extras?.dedupKey;
  if (key === undefined) return;
  const qs = state.queueOf(h);
  if (qs.dedup.get(key) === h) qs.dedup.delete(key);
  withExtras(state, h, { dedupKey: undefined });
}
