/**
 * The queue operations an operator reaches for: waking a scheduled job,
 * pausing and resuming a queue, removing jobs of a status in bulk and
 * requeueing dead jobs in bulk. Each single-job or single-queue operation is
 * one record; a bulk one is a series of atomic commits, each of one record
 * per job, run in slices of a few milliseconds (one per turn of the event
 * loop): a slice scans and commits groups sized to the time it has left,
 * so none holds the event loop for long however many jobs the queue has or
 * however loaded the core is. Arguments are checked by the caller.
 */
import { nextTurn, type SliceBudget, StepSizer } from "../util/slices.js";
import type { QueueCore } from "./core.js";
import {
  abortRemovedClaims,
  outsideFlows,
  ownRemoveRecord,
  removalRecords,
  requeueRecord,
} from "./flow-admin.js";
import { isWaitingParent } from "./flow-state.js";
import { type WalkKey, walk } from "./listing.js";
import type { QueueRecord } from "./records/codec.js";
import { Tag } from "./records/tags.js";
import { type State, Status, type StatusCode } from "./state.js";
import { slot } from "./table.js";
import type { WakeOutcome } from "./types.js";

/** Jobs one slice of a bulk operation's scan looks at between two checks of its budget. */
export const BULK_SCAN_CHECK = 256;
/**
 * Records one commit of a bulk operation holds, at most: one record per job
 * (each encoded, looked up and applied). The number per commit follows the
 * time left in the slice, from {@link BULK_STEP_MIN} up to this.
 */
export const BULK_OPERATION_JOBS = 256;
/** Fewest records per commit of a bulk operation (progress however slow the core). */
export const BULK_STEP_MIN = 8;
/** First estimate of the cost of one record of a bulk operation (ms). */
const BULK_STEP_MS_PER_JOB = 0.01;

/** Statuses `removeJobs` accepts: every status but claimed (a claimed job is cancelled instead). */
export const REMOVABLE_STATUSES = ["pending", "scheduled", "done", "dead"] as const;
/** A status `removeJobs` accepts: one of {@link REMOVABLE_STATUSES}. */
export type RemovableStatus = (typeof REMOVABLE_STATUSES)[number];

function noop(): void {}

const STATUS_CODES: Record<RemovableStatus, StatusCode> = {
  pending: Status.Pending,
  scheduled: Status.Scheduled,
  done: Status.Done,
  dead: Status.Dead,
};

/**
 * The flow parent of job `h` when removing that parent takes `h` along
 * (`RemovalWalk`: both pending or scheduled, the parent waiting for `h`), else -1.
 */
function takingParent(state: State, h: number): number {
  if (!isOpen(state, h)) return -1;
  const parentId = state.table.extras(h)?.flowParent;
  const parent = parentId === undefined ? -1 : state.find(parentId);
  return parent !== -1 && isOpen(state, parent) ? parent : -1;
}

function isOpen(state: State, h: number): boolean {
  const status = state.statusOf(h);
  return status === Status.Pending || status === Status.Scheduled;
}

/**
 * Runs `slice` (one synchronous step within the slice's `budget` that
 * commits what it decided into `written` and tells whether work remains) at
 * once and then once per turn of the event loop; resolves once every commit
 * is durable, or, when it committed nothing, once what is in flight is (the
 * answer may rest on a write not durable yet, such as a requeue or removal
 * of the jobs it found gone).
 */
async function inSlices(
  core: QueueCore,
  slice: (written: Promise<void>[], budget: SliceBudget) => boolean,
): Promise<void> {
  const written: Promise<void>[] = [];
  try {
    for (;;) {
      core.check();
      if (!slice(written, core.sliceBudget())) break;
      await nextTurn();
    }
  } finally {
    for (const w of written) w.catch(noop);
  }
  if (written.length === 0) await core.log.whenDurable();
  else await Promise.all(written);
}

function operationSteps(core: QueueCore): StepSizer {
  return new StepSizer(BULK_STEP_MIN, BULK_OPERATION_JOBS, BULK_STEP_MS_PER_JOB, core.sliceNow);
}

/** One scheduled job → pending now. */
export async function wakeScheduled(core: QueueCore, id: string): Promise<WakeOutcome> {
  const h = core.findJob(id);
  // A flow parent waiting for its children is not due by time: it is not woken.
  if (h === -1 || core.state.statusOf(h) !== Status.Scheduled || isWaitingParent(core.state, h)) {
    const outcome = h === -1 ? "not_found" : "not_scheduled";
    // What made it so (a wake, a claim, a removal) may still be in flight: answer once durable.
    await core.log.whenDurable();
    return outcome;
  }
  const queue = core.state.queueOf(h).name;
  const written = core.commit({ tag: Tag.Wake, id: core.state.idOf(h) });
  core.dispatch(queue);
  await written;
  return "woken";
}

/**
 * Pause or resume `queue` durably; a no-op when it already is (answered once
 * what is in flight is durable, leaving the open batch open).
 */
export async function setPaused(core: QueueCore, queue: string, paused: boolean): Promise<void> {
  if ((core.state.queues.get(queue)?.paused ?? false) === paused) {
    // An earlier call may have decided it and still be in flight: answer once it is durable.
    await core.log.whenDurable();
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
 * are left alone. A job goes with its open flow children (`removalRecords`),
 * and with the topmost flow ancestor the call removes too, when it has one:
 * what is removed then does not depend on the order of the walk or on how
 * its slices cut it into commits. Resolves with how many were removed,
 * once that is durable.
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
  const code = STATUS_CODES[status];
  const timeOf = (h: number): number => {
    const page = state.table.read(h);
    return byEnqueue ? page.enqueuedAt[slot(h)]! : page.at[slot(h)]!;
  };
  /** Whether job `h`, of the queue in the status, is one this call removes (not decided yet). */
  const selected = (h: number, covered: ReadonlySet<number>): boolean =>
    timeOf(h) <= cutoff && state.table.read(h).seq[slot(h)]! < seqLimit && !covered.has(h);
  /**
   * The topmost flow ancestor of selected job `h` that this call removes too
   * and whose removal takes `h` along (every job between them waiting for
   * its children, in any queue), or `h` itself when there is none. The
   * result so does not depend on the order the walk meets a flow's jobs in,
   * nor on how its slices cut the walk into commits.
   */
  const selectedRoot = (h: number, covered: ReadonlySet<number>): number => {
    let root = h;
    for (let job = takingParent(state, h); job !== -1; job = takingParent(state, job))
      if (state.statusOf(job) === code && state.queueOf(job).name === queue)
        if (selected(job, covered)) root = job;
    return root;
  };
  let from: WalkKey | null = null;
  let removed = 0;
  const steps = operationSteps(core);
  await inSlices(core, (written, budget) => {
    for (;;) {
      const qs = state.queues.get(queue);
      if (qs === undefined) return false;
      const records: QueueRecord[] = [];
      const take = steps.size(budget);
      let scanned = 0;
      let more = false;
      /** Jobs this commit acts on (flow children come along with their parents). */
      const covered = new Set<number>();
      const claimed: number[] = [];
      /** The job each record names, in record order (hints for `apply`). */
      const handles: number[] = [];
      let count = 0;
      const at = core.now();
      walk(state, qs, status, from, (h, key) => {
        if (records.length === take || (++scanned % BULK_SCAN_CHECK === 0 && budget.spent())) {
          more = true;
          return false;
        }
        // Done jobs are walked in completion order: nothing after this one is old enough.
        if (status === "done" && timeOf(h) > cutoff) return false;
        // A flow's job goes with its open children (covered by an earlier one's, it is gone already).
        if (!selected(h, covered)) {
          from = key;
          return true;
        }
        if (outsideFlows(state, h)) {
          // Its one record, the first `removalRecords` gives (`ownRemoveRecord`), without its walk's
          // arrays (room for it is checked above).
          from = key;
          records.push(ownRemoveRecord(state, h, at, covered));
          handles.push(h);
          count++;
          return true;
        }
        // A child selected with its flow parent goes with that parent's removal, in this
        // commit: removed before it, it would make the parent dead, and so not selected.
        const root = selectedRoot(h, covered);
        const removal = removalRecords(state, root, at, covered);
        // `h` itself when the parent's removal did not take it along (never, by `selectedRoot`).
        const own = covered.has(h) ? null : removalRecords(state, h, at, covered);
        const size = removal.records.length + (own?.records.length ?? 0);
        if (records.length > 0 && records.length + size > take) {
          more = true;
          return false;
        }
        from = key;
        for (const r of own === null ? [removal] : [removal, own]) {
          for (const record of r.records) records.push(record);
          for (const named of r.handles) handles.push(named);
          for (const c of r.claimed) claimed.push(c);
          count += r.removed;
        }
        return true;
      });
      if (records.length > 0) {
        steps.begin();
        for (const named of handles) state.expect(named);
        written.push(core.commit(records));
        steps.end(records.length);
        abortRemovedClaims(core, claimed);
        removed += count;
        onProgress?.(removed);
      }
      if (!more) return false;
      if (budget.spent()) return true;
    }
  });
  return removed;
}

/**
 * Puts up to `limit` dead jobs of `queue` back to pending (oldest first: enqueue order),
 * like `requeueDeadJob` each: a dead flow comes back whole, so the count
 * (of every job requeued, in any queue) may pass `limit` by the rest of one
 * flow. Resolves with how many, once that is durable.
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
  const steps = operationSteps(core);
  await inSlices(core, (written, budget) => {
    for (;;) {
      const qs = state.queues.get(queue);
      if (qs === undefined || requeued >= limit) return false;
      const take = Math.min(steps.size(budget), limit - requeued);
      const records: QueueRecord[] = [];
      let more = false;
      const at = core.now();
      /** Jobs this commit requeues (a flow's dead jobs come together), and their queues. */
      const covered = new Set<number>();
      const queues = new Set<string>([queue]);
      /** Jobs those records requeue (a flow's dead jobs come along with its topmost one). */
      let count = 0;
      /** Dead jobs looked at: a refused flow requeues nothing but still costs its visit. */
      let visited = 0;
      walk(state, qs, "dead", from, (h, key) => {
        if (count >= take || visited >= take) {
          more = true;
          return false;
        }
        visited++;
        const flow = requeueRecord(state, h, at, covered);
        if (count > 0 && count + flow.jobs.length > take) {
          more = true;
          return false;
        }
        from = key;
        if (flow.record !== null) records.push(flow.record);
        count += flow.jobs.length;
        for (const j of flow.jobs) queues.add(state.queueOf(j).name);
        return true;
      });
      if (records.length > 0) {
        steps.begin();
        written.push(core.commit(records));
        steps.end(count);
        requeued += count;
        for (const name of queues) core.dispatch(name);
        onProgress?.(requeued);
      }
      if (!more || requeued >= limit) return false;
      if (budget.spent()) return true;
    }
  });
  return requeued;
}
