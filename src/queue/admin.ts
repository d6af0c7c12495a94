/**
 * Management operations of the public `Queue` that change jobs outside
 * their workers: cancelling a job, requeueing a dead one, waking a scheduled
 * one, pausing and resuming a queue, and the argument checks of the bulk
 * removals and requeues (carried out by `operations.ts`); running the
 * scheduler or reaper, or a flush, on demand.
 */
import { FlowNotRequeueableError, JobNotFoundError } from "../errors.js";
import { messageOf } from "../util/message.js";
import { nextTurn } from "../util/slices.js";
import {
  checkDuration,
  checkFunction,
  checkInteger,
  checkOneOf,
  checkOptionsObject,
  checkString,
} from "../validate.js";
import type { QueueCore } from "./core.js";
import {
  abortRemovedClaims,
  type Removal,
  RemovalWalk,
  removalRecords,
  requeueRecord,
} from "./flow-admin.js";
import { cancelTree, isWaitingParent } from "./flow-state.js";
import {
  REMOVABLE_STATUSES,
  type RemovableStatus,
  removeJobs,
  requeueDeadJobs,
  setPaused,
  wakeScheduled,
} from "./operations.js";
import {
  REMOVE_JOBS_KEYS,
  REQUEUE_DEAD_JOBS_KEYS,
  type RemoveJobsOptions,
  type RequeueDeadJobsOptions,
} from "./options.js";
import { RecordEncoder } from "./records/codec.js";
import { Tag } from "./records/tags.js";
import { Status } from "./state.js";
import { Flag, slot } from "./table.js";
import type { CancelOutcome, JobRecord, WakeOutcome } from "./types.js";
import { checkQueueName } from "./validate.js";

/** The id of `job` (a `JobRecord` or an id); anything else as it is, for the check to name. */
function jobIdOf(job: unknown): unknown {
  return typeof job === "object" && job !== null ? (job as { id?: unknown }).id : job;
}

/** `Queue.cancel`. */
export async function cancelJob(core: QueueCore, id: string): Promise<CancelOutcome> {
  core.checkSettle();
  const state = core.state;
  const h = core.findJob(checkString(id, "id"));
  const status = h === -1 ? null : state.statusOf(h);
  if (status === null || status === Status.Done || status === Status.Dead) {
    // The job's end (or removal) may still be in flight: answer once it is durable.
    await core.log.whenDurable();
    return "not_found";
  }
  const jobId = state.idOf(h);
  if (isWaitingParent(state, h)) {
    // A flow parent: its children that have not ended go with it, atomically.
    const { records, claimed } = cancelTree(state, h, core.now());
    const written = core.commit({ tag: Tag.Transaction, ops: records });
    for (const c of claimed)
      core.leases.get(c)?.abort(new Error(`job ${state.idOf(c)} was cancelled with its flow`));
    await written;
    return "removed";
  }
  if (status !== Status.Claimed) {
    await core.commit({ tag: Tag.Cancel, id: jobId, at: core.now() });
    return "removed";
  }
  if ((state.table.read(h).flags[slot(h)]! & Flag.CancelRequested) === 0) {
    const written = core.commit({ tag: Tag.CancelRequest, id: jobId });
    core.leases.get(h)?.abort(new Error(`job ${state.publicIdOf(h)} was cancelled`));
    await written;
  } else await core.log.whenDurable(); // an earlier call's request may still be in flight
  return "requested";
}

/**
 * A bulk operation's `options.onProgress`, checked, and guarded: the first
 * time it throws is logged (once) and it is not called again.
 */
function progressListener(core: QueueCore, value: unknown): ((count: number) => void) | undefined {
  if (value === undefined) return undefined;
  const listener = checkFunction(
    value as (count: number) => void,
    "options.onProgress",
    "a function (count) => void",
  );
  let broken = false;
  return (count) => {
    if (broken) return;
    try {
      listener(count);
    } catch (error) {
      broken = true;
      // String() of some thrown values throws: that must not end the bulk operation half done.
      let text: string;
      try {
        text = String(error);
      } catch {
        text = messageOf(error);
      }
      core.logger.error(`an onProgress listener threw, and is not called again: ${text}`, {
        error,
      });
    }
  };
}

/** `Queue.removeJobs`: checks, then `removeJobs`. */
export async function removeJobsOf(
  core: QueueCore,
  queue: string,
  status: RemovableStatus,
  options: RemoveJobsOptions,
): Promise<number> {
  core.check();
  const name = checkQueueName(queue);
  const which = checkOneOf(status, "status", REMOVABLE_STATUSES);
  checkOptionsObject(options, "options", REMOVE_JOBS_KEYS);
  const olderThanMs =
    options.olderThanMs === undefined
      ? undefined
      : checkDuration(options.olderThanMs, "options.olderThanMs");
  const onProgress = progressListener(core, options.onProgress);
  return removeJobs(core, name, which, olderThanMs, onProgress);
}

/** `Queue.requeueDeadJobs`: checks, then `requeueDeadJobs`. */
export async function requeueDeadJobsOf(
  core: QueueCore,
  queue: string,
  options: RequeueDeadJobsOptions,
): Promise<number> {
  core.check();
  const name = checkQueueName(queue);
  checkOptionsObject(options, "options", REQUEUE_DEAD_JOBS_KEYS);
  const limit =
    options.limit === undefined
      ? Number.POSITIVE_INFINITY
      : checkInteger(options.limit, "options.limit", 0);
  return requeueDeadJobs(core, name, limit, progressListener(core, options.onProgress));
}

/** Children a removal walks between two looks at the slice's budget. */
const WALKED_PER_CHECK = 256;

/**
 * `Queue.removeJob`: a `Remove` record (the record `removeJobs` writes per
 * job), so a replay removes it the same way, with those of the flow
 * children it takes along (`removalRecords`), in one commit. A claimed job
 * is left to `cancel`.
 *
 * The flow below the job is walked in slices of the loop when it is large
 * (a root of 10,000 jobs), so the turn that commits only applies. That turn
 * uses the walk when no commit came between (the state is then the one
 * walked), else walks again, there and then, from the job as it is now
 * (the job this call found, by its log id: none if it went meanwhile).
 */
export async function removeOne(core: QueueCore, job: JobRecord | string): Promise<boolean> {
  core.check();
  const id = checkString(jobIdOf(job), "job");
  const state = core.state;
  let h = core.findJob(id);
  if (h === -1 || state.statusOf(h) === Status.Claimed) return notRemoved(core);
  const logId = state.idOf(h);
  const commits = core.commits;
  const budget = core.sliceBudget();
  const walk = new RemovalWalk(state, h, core.now(), new Set());
  let removal: Removal = walk;
  /** The records of a walk longer than one step, encoded in its slices (a private encoder). */
  let encoded: Uint8Array[] | undefined;
  let encoder: RecordEncoder | undefined;
  while (!walk.step(WALKED_PER_CHECK)) {
    encoder ??= new RecordEncoder();
    encoded ??= [];
    while (encoded.length < walk.records.length)
      encoded.push(encoder.encode(walk.records[encoded.length]!));
    if (budget.spent()) {
      await nextTurn();
      core.check();
      budget.start();
    }
  }
  if (encoder !== undefined && encoded !== undefined)
    while (encoded.length < walk.records.length)
      encoded.push(encoder.encode(walk.records[encoded.length]!));
  if (core.commits !== commits) {
    // By its log id, never reused: a caller's `jobId` may name a job enqueued since this call.
    h = state.find(logId);
    if (h === -1 || state.statusOf(h) === Status.Claimed) return notRemoved(core);
    removal = removalRecords(state, h, core.now());
    encoded = undefined;
  }
  const { records, handles, claimed } = removal;
  // Each record names a job the walk found, by that id, in its row of this very state (walked
  // again above if anything was committed since): `apply` takes the row, with no look-up.
  for (let k = 0; k < records.length; k++) state.expect(handles[k]!, records[k]!.id);
  const written =
    records.length === 1 ? core.commit(records[0]!) : core.commit(records, undefined, encoded);
  abortRemovedClaims(core, claimed);
  await written;
  return true;
}

/**
 * `false` for a job {@link removeOne} leaves, once the log is durable up to
 * the call: the job's end, removal or claim may still be in flight.
 */
async function notRemoved(core: QueueCore): Promise<false> {
  await core.log.whenDurable();
  return false;
}

/**
 * `Queue.requeueDeadJob`: one `RequeueDead` record, of the topmost dead job
 * of its flow when it has one (`requeueRecord`), which brings the dead part
 * of the flow back with it. A flow that lost a child to a removal is refused
 * with `FlowNotRequeueableError` (a `JobNotFoundError`: no dead job that can
 * run again), naming the child.
 */
export async function requeueDead(core: QueueCore, job: JobRecord | string): Promise<void> {
  core.check();
  const id = checkString(jobIdOf(job), "job");
  const state = core.state;
  const h = core.findJob(id);
  if (h === -1 || state.statusOf(h) !== Status.Dead) {
    // What made it so (a requeue, a removal) may still be in flight: answer once it is durable.
    await core.log.whenDurable();
    throw new JobNotFoundError(`requeueDeadJob: no dead job with id ${id}`);
  }
  const { record, jobs, refused, removedChild } = requeueRecord(state, h, core.now());
  if (refused !== null) {
    const error = new FlowNotRequeueableError(
      `requeueDeadJob: the flow of dead job ${id} cannot run again: ${refused} (remove its dead jobs, or enqueue the flow again)`,
      removedChild!,
    );
    // The child's removal may still be in flight.
    await core.log.whenDurable();
    throw error;
  }
  const queues = new Set(jobs.map((j) => state.queueOf(j).name));
  const written = core.commit(record!);
  for (const name of queues) core.dispatch(name);
  await written;
}

/** `Queue.wakeScheduled`. */
export async function wakeJob(core: QueueCore, id: string): Promise<WakeOutcome> {
  core.check();
  return wakeScheduled(core, checkString(id, "id"));
}

/** `Queue.pauseQueue` (`paused`) and `Queue.resumeQueue`. */
export async function pauseOrResume(
  core: QueueCore,
  queue: string,
  paused: boolean,
): Promise<void> {
  core.check();
  await setPaused(core, checkQueueName(queue), paused);
}

/**
 * `Queue.promoteScheduledNow`. A promotion the scheduler's timer started may
 * still be writing when this pass finds nothing left to do: resolve only once
 * every write in flight is durable, so the promotion this call observed is.
 */
export async function promoteNow(core: QueueCore): Promise<void> {
  core.check();
  await core.promoteDue();
  await core.log.append([]);
}

/** `Queue.reapNow`; durable on return like {@link promoteNow}. */
export async function reapNow(core: QueueCore): Promise<void> {
  core.check();
  await core.reap();
  await core.log.append([]);
}

/** `Queue.flush`. */
export async function flushNow(core: QueueCore): Promise<void> {
  core.check();
  await core.log.flush();
}
