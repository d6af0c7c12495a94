/**
 * The management part of the public `Queue` API: job look-ups, listings,
 * stats, cancel, remove, requeue, pause and resume, and the queue's
 * counters and settings. A class of `Queue`'s chain (`Queue` extends it
 * through `QueueSchedules`, it extends `QueueData`), so these methods and
 * their TSDoc stay on `Queue`. Each method delegates in one line to its feature module
 * (`reads.ts`, `admin.ts`, `completions.ts`).
 */
import type { Clock } from "../clock.js";
import type { Log } from "../log/index.js";
import type { RequestCounts } from "../store/wrappers/counting.js";
import * as admin from "./admin.js";
import { waitForCompletionOf } from "./completions.js";
import type { QueueCore } from "./core.js";
import type { JobPage, ListJobsOptions } from "./listing.js";
import type { RemovableStatus } from "./operations.js";
import type {
  DeadJobsOptions,
  ListQueuesOptions,
  QueueConfig,
  RemoveJobsOptions,
  RequeueDeadJobsOptions,
  WaitForCompletionOptions,
} from "./options.js";
import { QueueData } from "./queue-data.js";
import * as reads from "./reads.js";
import { notReceiver } from "./receiver.js";
import { refusedInBuild } from "./transaction.js";
import type {
  CancelOutcome,
  Completion,
  JobAttempt,
  JobRecord,
  JobStatus,
  QueueStats,
  WakeOutcome,
} from "./types.js";
import { checkQueueName } from "./validate.js";

/** Management of a `Queue`'s jobs and queues (see `Queue`). */
export class QueueManagement extends QueueData {
  /**
   * The core of `receiver` (the `this` of a method); a `TypeError` saying how
   * to call the method when it is not a queue (a detached `enqueue`).
   */
  static #coreOf(receiver: unknown): QueueCore {
    if (typeof receiver === "object" && receiver !== null && #core in receiver)
      return receiver.#core;
    throw notReceiver("Queue", receiver);
  }

  /** This queue's core, handed down by `Queue`'s constructor. */
  readonly #core: QueueCore;

  /** Only `Queue` constructs this, with its core (`never`: see `QueueData`'s constructor). */
  protected constructor(core: never) {
    super(core);
    this.#core = core;
  }

  /**
   * A snapshot of the job, or `null` if it does not exist (never existed, or
   * was removed). Answered once every change logged before the call is
   * durable, so it never shows a state that a crash could still undo (the
   * same holds for `attemptHistory`, `listJobs`, `deadJobs`,
   * `childResults`, `listSchedules`, `kvGet` and `kvScan`; not for `stats`,
   * whose counters answer at once, also while the store is failing). Rejects
   * with a `CorruptionError` naming the object when the job's offloaded
   * payload object is damaged, and with a `StorageError` naming it when the
   * object is missing though the job still references it (a listing shows
   * such a job with `payloadError` instead, see {@link listJobs}).
   */
  getJob(id: string): Promise<JobRecord | null> {
    return reads.readJob(QueueManagement.#coreOf(this), id);
  }

  /**
   * Wait until job `id` ends: resolves `{ status: "done", result? }` once it
   * is acked, `{ status: "dead", error }` once dead-lettered, `{ status:
   * "cancelled" }` once cancelled — each once that is durable — or `{ status:
   * "timeout" }` when `options.timeoutMs` passes first. A job that already
   * ended (and is still kept) answers without waiting for a transition, once
   * everything written before the call is durable — a cancelled one with
   * `"cancelled"` for its queue's `resultRetentionMs` after the cancel, from
   * its tombstone; an unknown id, or a job gone past its retention, is
   * `{ status: "not_found" }` — which is also what a job acked without a
   * result answers once it finished, unless its queue keeps done jobs
   * (`keepDoneJobsMs`; by default it is deleted at the ack), so start waiting
   * before it can finish. A `not_found` too comes once everything written
   * before the call is durable; `timeoutMs` and `signal` bound that wait as
   * they bound the wait for a transition. No polling: the wait is
   * woken by the transition itself, also for a job enqueued before a restart.
   * Rejects with `options.signal`'s reason when it aborts, and with
   * `ClosedError` (or the queue's failure) when the queue closes first (a
   * job acked, dead-lettered or cancelled before `close` was called still
   * answers that, once the closing flush makes it durable). Either way the
   * wait stays open until that flush ends: on a store that keeps failing,
   * until the log's retry policy gives up. On a queue another process took
   * over, a wait settles (with `FencedError`) only once this queue learns of
   * it: at its next write, at its next beat with `heartbeatMs`, or when it
   * closes.
   */
  waitForCompletion(id: string, options: WaitForCompletionOptions = {}): Promise<Completion> {
    return waitForCompletionOf(QueueManagement.#coreOf(this), id, options);
  }

  /**
   * How each attempt at job `id` ended, oldest first: completed, retried,
   * dead-lettered, lease expired, interrupted (its process went away),
   * timed out, requeued (from dead), cancelled. At most the newest 100.
   * Empty for an unknown id; removed with the job, but for a cancelled job,
   * whose history (ending with the cancel) is kept for its queue's
   * `resultRetentionMs`, or until a new job takes its `jobId`.
   */
  attemptHistory(id: string): Promise<JobAttempt[]> {
    return reads.readAttemptHistory(QueueManagement.#coreOf(this), id);
  }

  /**
   * Cancel a job: a pending or scheduled one is removed; a claimed one is
   * flagged (its worker's signal aborts; if the delivery fails or expires the
   * job is removed rather than retried; an ack still completes it). A removed
   * job leaves a tombstone: `waitForCompletion` answers `"cancelled"` and
   * `attemptHistory` shows its history for the queue's `resultRetentionMs`.
   * `"not_found"` (an unknown id, or a job that ended), and a repeated
   * `"requested"`, are answered once every write made before the call is
   * durable: an end or request still in flight is never taken for done.
   */
  cancel(id: string): Promise<CancelOutcome> {
    const core = QueueManagement.#coreOf(this);
    return refusedInBuild(core, "cancel", "use `tx.cancel`") ?? admin.cancelJob(core, id);
  }

  /** Counters of one queue (zeros for a queue that never held a job). */
  stats(queue: string): Promise<QueueStats> {
    return reads.statsOf(QueueManagement.#coreOf(this), queue);
  }

  /**
   * Every queue that ever held a job, sorted; with `includePaused`, also
   * those paused before their first job (see {@link pauseQueue}).
   */
  listQueues(options: ListQueuesOptions = {}): Promise<string[]> {
    return reads.queuesOf(QueueManagement.#coreOf(this), options);
  }

  /**
   * A page of dead jobs of `queue` in id order (the caller's `jobId`, else
   * the generated id), those whose ids sort after `options.after`, a plain
   * exclusive bound (see {@link DeadJobsOptions.after}). A long
   * page is read a few hundred jobs at a time, a few milliseconds per turn of
   * the event loop: a job that changes meanwhile is listed as it is when the
   * read reaches it (left out once no longer dead). A job whose offloaded
   * payload object is damaged or gone is listed with an empty `payload` and
   * `payloadError` saying why (see {@link listJobs}).
   */
  deadJobs(queue: string, options: DeadJobsOptions = {}): Promise<JobRecord[]> {
    return reads.readDeadJobs(QueueManagement.#coreOf(this), queue, options);
  }

  /**
   * Put a dead job back to pending with attempts 0 and lastError/failedAt
   * cleared (enqueuedAt kept). `JobNotFoundError` unless it is dead right now,
   * or when it belongs to a dead flow that lost a child to a removal (the
   * message names the child): such a parent never runs without that input.
   * Either refusal comes once every write made before the call is durable
   * (the requeue or removal it rests on may still be in flight).
   */
  requeueDeadJob(job: JobRecord | string): Promise<void> {
    return admin.requeueDead(QueueManagement.#coreOf(this), job);
  }

  /**
   * A page of the jobs of `queue` in `status`, in that status's order:
   * pending in claim order (priority, then oldest), scheduled by `runAt`,
   * claimed and dead by id, done by completion time. Pass `nextCursor` as
   * `options.cursor` for the next page; it is absent on the last page.
   *
   * A walk stays consistent while the queue changes: no job comes twice (as
   * long as it keeps its place in the order: a job that leaves the status and
   * comes back with a later `runAt` or completion time can), and no job that
   * stayed in the status all along is skipped.
   *
   * One job whose offloaded payload object is damaged or gone (a job
   * dead-lettered for it is one) does not fail the page: it is listed with an
   * empty `payload` and `payloadError` saying why and naming the object
   * (`payloadRef` and `payloadSize` stay), with one warning to the logger for
   * the page; `getJob` of it rejects with the error itself (a
   * `CorruptionError` for a damaged object, a `StorageError` for a missing
   * one). Code that copies listed payloads (re-enqueues or exports them)
   * should check `payloadError`: such a job's `payload` is empty. A store
   * that fails to answer still rejects the call.
   * @example
   * ```ts
   * const { jobs } = await queue.listJobs("reports", "dead");
   * for (const job of jobs)
   *   if (job.payloadError !== undefined) console.log(job.id, job.payloadError);
   * ```
   */
  listJobs(
    queue: string,
    status: JobStatus,
    options: ListJobsOptions = {},
  ): Promise<JobPage<JobRecord>> {
    return reads.listJobsOf(QueueManagement.#coreOf(this), queue, status, options);
  }

  /**
   * Make one scheduled job due now (it becomes pending and claimable at
   * once). Resolves `"woken"` once that is durable, `"not_scheduled"` for a
   * job in another status or for a flow parent still waiting for its children
   * (it reads as `scheduled` but runs only once they ended), `"not_found"` for
   * an unknown id; those two once every write made before the call is
   * durable (a wake or removal still in flight may be why).
   */
  wakeScheduled(id: string): Promise<WakeOutcome> {
    return admin.wakeJob(QueueManagement.#coreOf(this), id);
  }

  /**
   * Pause `queue`, durably (a restart keeps it paused): claims of it hand out
   * nothing, and waiting claims keep waiting, until {@link resumeQueue};
   * enqueues still land, and claims already handed out can still be settled.
   * `stats(queue).paused` says so. Resolves once durable; pausing a paused
   * queue writes nothing. A queue may be paused before it ever held a job (a
   * deploy that holds a new queue until it is ready): it stays paused when
   * jobs arrive, but {@link listQueues} lists it only once it held one
   * (or when asked with `includePaused`).
   */
  pauseQueue(queue: string): Promise<void> {
    return admin.pauseOrResume(QueueManagement.#coreOf(this), queue, true);
  }

  /** Resume a paused queue (durably); waiting claims get its jobs at once. */
  resumeQueue(queue: string): Promise<void> {
    return admin.pauseOrResume(QueueManagement.#coreOf(this), queue, false);
  }

  /**
   * Remove one job that is pending, scheduled, done or dead (by its id, or
   * the caller's `jobId`): it is gone from every list, its dedup key and
   * caller id are free again, and a `waitForCompletion` on it ends as
   * cancelled. Resolves `true` once the removal is durable; `false` when no
   * such job exists, or it is claimed (use {@link cancel} for a running
   * job). A flow's job goes with its children that have not ended, in one
   * commit; a large flow is walked over a few turns of the event loop first,
   * and removed as it is when that commit is made (`false` if the job went
   * meanwhile, even when a new job has taken its `jobId` since). A `false`
   * comes once every write made before the call is durable (a removal or end
   * still in flight may be why).
   */
  removeJob(job: JobRecord | string): Promise<boolean> {
    return admin.removeOne(QueueManagement.#coreOf(this), job);
  }

  /**
   * Remove the jobs of `queue` in `status` (`"pending"`, `"scheduled"`,
   * `"done"` or `"dead"`; a claimed job is cancelled instead), or with
   * `olderThanMs` only those at least that old: by enqueue time for pending
   * and scheduled jobs, completion time for done ones, failure time for dead
   * ones. Jobs that arrive meanwhile are left alone. A flow's job goes with
   * its children that have not ended, in any queue (counted too); a job whose
   * flow parent this call removes as well goes with that parent, which so
   * never goes dead for the removal of its child. Runs as a series of
   * atomic writes of at most 256 jobs each, a few milliseconds' worth per
   * turn of the event loop; resolves with how many jobs it removed once
   * that is durable (with 0, once every write made before the call is: one
   * in flight may be why there was nothing to remove).
   */
  removeJobs(
    queue: string,
    status: RemovableStatus,
    options: RemoveJobsOptions = {},
  ): Promise<number> {
    return admin.removeJobsOf(QueueManagement.#coreOf(this), queue, status, options);
  }

  /**
   * Put the dead jobs of `queue` back to pending, oldest first (by enqueue), up to
   * `options.limit` of them (default: all), each like {@link requeueDeadJob}.
   * Runs as a series of atomic writes of at most 256 jobs each, a few
   * milliseconds' worth per turn of the event loop; resolves with how many
   * it requeued once that is durable (with 0, once every write made before
   * the call is: one in flight may be why there was nothing to requeue).
   */
  requeueDeadJobs(queue: string, options: RequeueDeadJobsOptions = {}): Promise<number> {
    return admin.requeueDeadJobsOf(QueueManagement.#coreOf(this), queue, options);
  }

  /** Promote every due scheduled job now. */
  promoteScheduledNow(): Promise<void> {
    return admin.promoteNow(QueueManagement.#coreOf(this));
  }

  /** Run one reaper pass now: expire leases, then the retention sweeps. */
  reapNow(): Promise<void> {
    return admin.reapNow(QueueManagement.#coreOf(this));
  }

  /** Resolve once everything logged so far is durable. */
  flush(): Promise<void> {
    return admin.flushNow(QueueManagement.#coreOf(this));
  }

  /**
   * The resolved configuration of `queue`: `DEFAULT_QUEUE_CONFIG`, then
   * `options.defaultQueueConfig`, then `options.queueConfigs[queue]`. Frozen.
   */
  queueConfig(queue: string): Readonly<QueueConfig> {
    return QueueManagement.#coreOf(this).settings.configs.get(checkQueueName(queue));
  }

  /** The clock this queue reads time from. */
  get clock(): Clock {
    return QueueManagement.#coreOf(this).clock;
  }

  /** `true` once closed, or after the log failed (fenced, storage retries exhausted). */
  get closed(): boolean {
    return QueueManagement.#coreOf(this).closed;
  }

  /**
   * Requests this queue made to its store since it opened, by kind, and the
   * bytes it wrote (put bodies) and read (get bodies). Price them with
   * `estimateRequestCost`.
   */
  storeRequests(): RequestCounts {
    return QueueManagement.#coreOf(this).store.snapshot();
  }

  /**
   * Log counters: what this writer wrote (batches, records, bytes,
   * checkpoints), the WAL written since the newest checkpoint (what a
   * reopen replays), and when that checkpoint was written
   * (`lastCheckpointAt`: the store's checkpoint this queue opened from,
   * until it writes its own; `null` while the store has none).
   */
  logStats(): ReturnType<Log["stats"]> {
    return QueueManagement.#coreOf(this).log.stats();
  }
}
