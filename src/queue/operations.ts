/**
 * The queue operations an operator reaches for: waking a scheduled job,
 * pausing and resuming a queue, removing jobs of a status in bulk and
 * requeueing dead jobs in bulk. Each single-job or single-queue operation is
 * one record; a bulk one is a series of atomic commits of at most
 * {@link BULK_OPERATION_JOBS} records, one per turn of the event loop
 * after a scan of bounded length, so none holds the event loop for long
 * however many jobs the queue has. Arguments are checked by the caller.
 */
import { nextTurn } from "../util/slices.js";
import type { QueueCore } from "./core.js";
import { isWaitingParent } from "./flow-state.js";
import { type WalkKey, walk } from "./listing.js";
import type { QueueRecord } from "./records/codec.js";
import { Tag } from "./records/tags.js";
import { Status } from "./state.js";
import { slot } from "./table.js";
import type { WakeOutcome } from "./types.js";

/** Jobs one slice of a bulk operation looks at, at most (matching or not). */
export const BULK_SCAN_JOBS = 16_384;
/**
 * Jobs one slice of a bulk operation acts on, at most: one record per job
 * (each encoded, looked up and applied), a few milliseconds' work in all.
 */
export const BULK_OPERATION_JOBS = 512;

/** Statuses `removeJobs` accepts: every status but claimed (a claimed job is cancelled instead). */
export const REMOVABLE_STATUSES = ["pending", "scheduled", "done", "dead"] as const;
export type RemovableStatus = (typeof REMOVABLE_STATUSES)[number];

function noop(): void {}

/**
 * Runs `slice` (one bounded, synchronous step that commits what it decided
 * into `written` and tells whether work remains) at once and then once per
 * turn of the event loop; resolves once every commit is durable.
 */
async function inSlices(
  core: QueueCore,
  slice: (written: Promise<void>[]) => boolean,
): Promise<void> {
  const written: Promise<void>[] = [];
  try {
    for (;;) {
      core.check();
      if (!slice(written)) break;
      await nextTurn();
    }
  } finally {
    for (const w of written) w.catch(noop);
  }
  await Promise.all(written);
}

/** One scheduled job → pending now. */
export async function wakeScheduled(core: QueueCore, id: string): Promise<WakeOutcome> {
  const h = core.findJob(id);
  if (h === -1) return "not_found";
  // A flow parent waiting for its children is not due by time: it is not woken.
  if (core.state.statusOf(h) !== Status.Scheduled || isWaitingParent(core.state, h))
    return "not_scheduled";
  const queue = core.state.queueOf(h).name;
  const written = core.commit({ tag: Tag.Wake, id: core.state.idOf(h) });
  core.dispatch(queue);
  await written;
  return "woken";
}

/** Pause or resume `queue` durably; a no-op (after a flush) when it already is. */
export async function setPaused(core: QueueCore, queue: string, paused: boolean): Promise<void> {
  if ((core.state.queues.get(queue)?.paused ?? false) === paused) {
    // An earlier call may have decided it and still be in flight: answer once it is durable.
    await core.log.flush();
    return;
  }
  const written = core.commit({ tag: Tag.PauseQueue, queue, paused });
  if (!paused) core.dispatch(queue);
  await written;
}

/**
 * Removes the jobs of `queue` in `status` that are at least `olderThanMs`
 * old (enqueuedAt for pending and scheduled jobs, completedAt for done ones,
 * failedAt for dead ones), or all of them; jobs that arrive while it runs
 * are left alone. Resolves with how many were removed, once that is durable.
 */
export async function removeJobs(
  core: QueueCore,
  queue: string,
  status: RemovableStatus,
  olderThanMs: number | undefined,
  onProgress?: (removed: number) => void,
): Promise<number> {
  const state = core.state;
  // Without olderThanMs, no time filter (a wall clock stepped back must not spare a job).
  const cutoff = olderThanMs === undefined ? Number.POSITIVE_INFINITY : core.now() - olderThanMs;
  /** Jobs enqueued from now on are newer than the call. */
  const seqLimit = state.nextSeq;
  const byEnqueue = status === "pending" || status === "scheduled";
  let from: WalkKey | null = null;
  let removed = 0;
  await inSlices(core, (written) => {
    const qs = state.queues.get(queue);
    if (qs === undefined) return false;
    const records: QueueRecord[] = [];
    let scanned = 0;
    let more = false;
    walk(state, qs, status, from, (h, key) => {
      if (records.length === BULK_OPERATION_JOBS || scanned === BULK_SCAN_JOBS) {
        more = true;
        return false;
      }
      scanned++;
      const page = state.table.read(h);
      const i = slot(h);
      const time = byEnqueue ? page.enqueuedAt[i]! : page.at[i]!;
      // Done jobs are walked in completion order: nothing after this one is old enough.
      if (status === "done" && time > cutoff) return false;
      from = key;
      if (time <= cutoff && page.seq[i]! < seqLimit)
        records.push({ tag: Tag.Remove, id: state.idOf(h) });
      return true;
    });
    if (records.length > 0) {
      written.push(core.commit(records));
      removed += records.length;
      onProgress?.(removed);
    }
    return more;
  });
  return removed;
}

/**
 * Puts up to `limit` dead jobs of `queue` back to pending (oldest id first),
 * like `requeueDeadJob` each. Resolves with how many, once that is durable.
 */
export async function requeueDeadJobs(
  core: QueueCore,
  queue: string,
  limit: number,
  onProgress?: (requeued: number) => void,
): Promise<number> {
  const state = core.state;
  let from: WalkKey | null = null;
  let requeued = 0;
  await inSlices(core, (written) => {
    const qs = state.queues.get(queue);
    if (qs === undefined || requeued >= limit) return false;
    const take = Math.min(BULK_OPERATION_JOBS, limit - requeued);
    const records: QueueRecord[] = [];
    let more = false;
    const at = core.now();
    walk(state, qs, "dead", from, (h, key) => {
      if (records.length === take) {
        more = true;
        return false;
      }
      from = key;
      records.push({ tag: Tag.RequeueDead, id: state.idOf(h), at });
      return true;
    });
    if (records.length > 0) {
      written.push(core.commit(records));
      requeued += records.length;
      core.dispatch(queue);
      onProgress?.(requeued);
    }
    return more && requeued < limit;
  });
  return requeued;
}
