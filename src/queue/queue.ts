/**
 * The public `Queue`: the job API over one queue store.
 *
 * Every operation is check → decide → apply → append: its arguments are
 * checked (`validate.ts`); the record that expresses it is decided here, or
 * by `decisions.ts` where the caller did not spell the outcome out; the
 * core's `commit` applies it to the in-memory state through the one `apply`
 * and appends it to the log in the same synchronous step (`core.ts`). Claim
 * waiting lives in `waiters.ts`, the scheduler and reaper in `timers.ts`,
 * leases in `leases.ts`, settings in `config.ts`.
 */
import type { Clock } from "../clock.js";
import { ClaimLostError, JobNotFoundError } from "../errors.js";
import { type Log, openLog, type RecoveryReport } from "../log/index.js";
import type { ObjectStore } from "../store/types.js";
import type { RequestCounts } from "../store/wrappers/counting.js";
import { MeteredStore } from "../store/wrappers/metered.js";
import {
  checkDuration,
  checkInteger,
  checkOneOf,
  checkOptionsObject,
  checkString,
  invalidArgument,
} from "../validate.js";
import { resolveOpenOptions } from "./config.js";
import { QueueCore } from "./core.js";
import { decideNack, decideRelease } from "./decisions.js";
import {
  type CheckedJob,
  checkJob,
  checkJobList,
  type EnqueueResult,
  enqueueJobs,
  type JobInput,
} from "./enqueue.js";
import { type QueueEventListener, type QueueEventName, QueueEvents } from "./events.js";
import { INSTRUMENTATION, type Instrumentation } from "./instrument.js";
import { Lease } from "./leases.js";
import { checkListJobs, type JobPage, type ListJobsOptions, listJobsPage } from "./listing.js";
import {
  REMOVABLE_STATUSES,
  type RemovableStatus,
  removeJobs,
  requeueDeadJobs,
  setPaused,
  wakeScheduled,
} from "./operations.js";
import {
  type ClaimOptions,
  type DeadJobsOptions,
  type EnqueueOptions,
  MAX_CLAIM_BATCH,
  type OpenOptions,
  type QueueConfig,
  type RemoveJobsOptions,
  type RequeueDeadJobsOptions,
} from "./options.js";
import { Tag } from "./records.js";
import { restoreState } from "./restore.js";
import { type State, Status } from "./state.js";
import { Flag, slot } from "./table.js";
import { loadTelemetry } from "./telemetry/attach.js";
import { wallTime } from "./time.js";
import {
  type CancelOutcome,
  CLAIM_TOKEN,
  type Claim,
  type JobRecord,
  type JobStatus,
  type Payload,
  type QueueStats,
  type WakeOutcome,
} from "./types.js";
import {
  checkClaimOptions,
  checkDeadJobsOptions,
  checkMessage,
  checkQueueName,
} from "./validate.js";
import { deadJobsPage, queueNames, queueStats } from "./views.js";

/**
 * Registry key of the test-only inspection hook: `queue[INSPECT_STATE]()`
 * returns the live state, for invariant audits. Installed on the prototype by
 * the static block below, so it is not part of the `Queue` type.
 */
const INSPECT_STATE = Symbol.for("taquba.inspectState");

function noop(): void {}

/**
 * A durable job queue store. Open one per store path and share it between
 * producers and workers of the process; see the package README.
 *
 * All job state is in memory and changes synchronously, in call order; each
 * change is also appended to the store's log. Calls that report an outcome
 * (enqueue, ack, nack, deadLetter, cancel, requeueDeadJob) resolve once their
 * change is durable. A claim takes its job at once (no other claimer can get
 * it) but is handed out only once its record is durable, and records land in
 * order: a handler never runs for a job whose enqueue is not durable, and
 * every delivery counts an attempt that survives a crash. Delivery is at
 * least once.
 */
export class Queue {
  static {
    Object.defineProperty(Queue.prototype, INSPECT_STATE, {
      value(this: Queue): State {
        return this.#core.state;
      },
    });
    Object.defineProperty(Queue.prototype, INSTRUMENTATION, {
      get(this: Queue): Instrumentation | null {
        return this.#core.instrumentation;
      },
    });
  }

  readonly #core: QueueCore;
  readonly #events: QueueEvents;
  #recovery: RecoveryReport | null = null;

  private constructor(core: QueueCore) {
    this.#core = core;
    this.#events = new QueueEvents(core.observers, core.logger);
  }

  /**
   * Open (or create) the queue store at `path` inside `store`. Fences any
   * other live `Queue` on the same path. Jobs that were claimed when the
   * previous owner stopped are requeued at once (attempts kept) or, when out
   * of attempts, dead-lettered.
   */
  static async open(store: ObjectStore, path: string, options: OpenOptions = {}): Promise<Queue> {
    const resolved = resolveOpenOptions(options);
    wallTime(resolved.clock); // a clock before 1970 fails here, before the store is touched
    const telemetry = resolved.telemetry === null ? null : await loadTelemetry(resolved.telemetry);
    const metered = new MeteredStore(store);
    const recovered = await openLog(metered, path, resolved.log, "options.log");
    let core: QueueCore;
    let attached: Instrumentation | null = null;
    try {
      const state = await restoreState(path, recovered.checkpoint, recovered.records);
      core = new QueueCore(recovered.log, state, resolved, metered);
      if (telemetry !== null) core.instrumentation = attached = telemetry(core, path);
      await core.start();
    } catch (error) {
      attached?.close();
      await recovered.log.close().catch(noop);
      throw error;
    }
    const queue = new Queue(core);
    if (recovered.recovery !== undefined) {
      queue.#recovery = recovered.recovery;
      // Commit the salvaged state now, so later opens start past the damaged objects.
      await recovered.log.checkpoint();
    }
    return queue;
  }

  // ---- producers -------------------------------------------------------------------------

  /**
   * Add a job; resolves with its id once it is durable. With a `dedupKey` held
   * by a pending or scheduled job of the same queue, resolves with that job's
   * id and writes nothing. With a `jobId` that a job of this store has,
   * rejects with `DuplicateJobIdError` and writes nothing.
   */
  async enqueue(queue: string, payload: Payload, options: EnqueueOptions = {}): Promise<string> {
    this.#core.check();
    const name = checkQueueName(queue);
    const job = checkJob(this.#core.settings, name, payload, options, "payload", "options");
    const trace = this.#core.instrumentation?.tracing?.enqueue(name, job.options.headers, 1);
    if (trace === undefined) return (await this.#enqueueJobs(name, [job]))[0]!.id;
    try {
      const [result] = await this.#enqueueJobs(name, [
        { ...job, options: { ...job.options, headers: trace.headers } },
      ]);
      trace.succeeded([result!.id], result!.created);
      return result!.id;
    } catch (error) {
      trace.failed(error);
      throw error;
    }
  }

  /** Adds checked jobs once the log takes writes (see {@link enqueueJobs}). */
  async #enqueueJobs(name: string, jobs: CheckedJob[]): Promise<EnqueueResult[]> {
    if (!this.#core.log.isWritable()) await this.#core.log.whenWritable();
    this.#core.check();
    return enqueueJobs(this.#core, name, jobs);
  }

  /**
   * Add several jobs atomically (all or none survive a crash) with the queue's
   * defaults; resolves with their ids in input order once durable.
   */
  async enqueueBatch(queue: string, payloads: Payload[]): Promise<string[]> {
    this.#core.check();
    const name = checkQueueName(queue);
    if (!Array.isArray(payloads))
      throw invalidArgument("payloads", "an array of Uint8Array or string payloads", payloads);
    const settings = this.#core.settings;
    const jobs = payloads.map((p, i) =>
      checkJob(settings, name, p, {}, `payloads[${i}]`, "options"),
    );
    if (jobs.length === 0) return [];
    const trace = this.#core.instrumentation?.tracing?.enqueue(name, undefined, jobs.length);
    if (trace === undefined) return (await this.#enqueueJobs(name, jobs)).map((r) => r.id);
    try {
      const traced = jobs.map((job) => ({
        ...job,
        options: { ...job.options, headers: trace.headers },
      }));
      const ids = (await this.#enqueueJobs(name, traced)).map((r) => r.id);
      trace.succeeded(ids, true);
      return ids;
    } catch (error) {
      trace.failed(error);
      throw error;
    }
  }

  /**
   * Add several jobs, each with its own options, atomically (all or none
   * survive a crash); resolves once durable with one `{ id, created }` per
   * job in input order. A job whose `dedupKey` is held by a waiting job of
   * the queue, or by an earlier job of the same call, is not added: its
   * result has that job's id and `created: false`. A `jobId` that a job of
   * this store has, or that two jobs of the call share, rejects the whole
   * call with `DuplicateJobIdError`; any invalid job rejects it with
   * `InvalidArgumentError` naming it (`jobs[3].options.priority`). Either
   * way nothing is written.
   */
  async enqueueMany(queue: string, jobs: JobInput[]): Promise<EnqueueResult[]> {
    this.#core.check();
    const name = checkQueueName(queue);
    const checked = checkJobList(this.#core.settings, name, jobs);
    if (checked.length === 0) return [];
    const trace = this.#core.instrumentation?.tracing?.enqueue(name, undefined, checked.length);
    if (trace === undefined) return this.#enqueueJobs(name, checked);
    try {
      const traced = checked.map((job) => ({
        ...job,
        options: { ...job.options, headers: { ...job.options.headers, ...trace.headers } },
      }));
      const results = await this.#enqueueJobs(name, traced);
      trace.succeeded(
        results.map((r) => r.id),
        results.some((r) => r.created),
      );
      return results;
    } catch (error) {
      trace.failed(error);
      throw error;
    }
  }

  // ---- consumers -------------------------------------------------------------------------

  /**
   * Claim the next job of `queue` (lowest priority number, then oldest), or
   * `null`. With `waitMs`, waits up to that long for a job to arrive; each job
   * that becomes claimable wakes exactly one waiter.
   *
   * Resolves once the claim is durable (it shares the group commit with
   * everything else written meanwhile), so its attempt counts even if the
   * process dies right after; the lease starts then. Rejects with the queue's
   * failure (`FencedError`, `StorageError`) if the claim could not be made
   * durable: that claim is never handed out. Resolves `null` if the queue is
   * closed first.
   */
  async claim(queue: string, options: ClaimOptions = {}): Promise<Claim | null> {
    const claims = await this.#claim(queue, 1, options);
    return claims[0] ?? null;
  }

  /**
   * Claim up to `max` jobs of `queue` at once, in claim order (lowest
   * priority number, then oldest), each with its own lease of `leaseMs`;
   * resolves `[]` when none is claimable (after waiting up to `waitMs` for
   * one to arrive: a waiter then takes up to `max` of the jobs claimable when
   * it wakes). `max` is an integer from 0 to {@link MAX_CLAIM_BATCH}; 0
   * claims nothing.
   *
   * All the claims are one atomic log write: the call resolves once they are
   * durable, like {@link claim}, and rejects with the queue's failure if they
   * could not be made durable (then none is handed out).
   */
  async claimBatch(queue: string, max: number, options: ClaimOptions = {}): Promise<Claim[]> {
    return this.#claim(queue, checkInteger(max, "max", 0, MAX_CLAIM_BATCH), options);
  }

  async #claim(queue: string, max: number, options: ClaimOptions): Promise<Claim[]> {
    this.#core.check();
    const name = checkQueueName(queue);
    const { leaseMs, waitMs, signal } = checkClaimOptions(
      options,
      this.#core.settings.configs.get(name),
    );
    if (max === 0) return [];
    const qs = this.#core.state.queues.get(name);
    // Queue behind earlier waiters rather than overtaking them.
    if (qs !== undefined && !this.#core.waiters.has(name)) {
      const claims = this.#core.claimBatchFrom(qs, max, leaseMs);
      if (claims !== null) return claims;
    }
    if (waitMs === 0 || signal?.aborted) return [];
    return this.#core.waiters.wait(name, leaseMs, max, waitMs, signal);
  }

  /** Complete a claimed job: delete it, or keep it as done when the queue keeps done jobs. */
  async ack(claim: Claim): Promise<void> {
    this.#core.check();
    const lease = this.#core.liveLease(claim, "ack");
    const keep = this.#core.settings.configs.get(lease.queue).keepDoneJobsMs !== null;
    const at = this.#core.now();
    this.#core.leases.remove(lease);
    await this.#core.commit({ tag: Tag.Ack, id: lease.id, keep, at });
  }

  /**
   * Fail a delivery: retry after the queue's backoff, or dead-letter the job
   * when it has no attempts left. A job whose cancellation was requested is
   * removed instead of retried.
   */
  async nack(claim: Claim, error: string): Promise<void> {
    this.#core.check();
    const message = checkMessage(error, "error");
    const lease = this.#core.liveLease(claim, "nack");
    const record = decideNack(
      this.#core.state,
      lease.job,
      this.#core.settings.configs.get(lease.queue),
      this.#core.now(),
      message,
    );
    this.#core.leases.remove(lease);
    const written = this.#core.commit(record);
    if (record.tag === Tag.Retry) {
      if (record.runAt === undefined) this.#core.dispatch(lease.queue);
      else this.#core.timers.scheduleAt(record.runAt);
    }
    return written;
  }

  /** Dead-letter a claimed job at once, whatever its attempts, with `reason` as lastError. */
  async deadLetter(claim: Claim, reason: string): Promise<void> {
    this.#core.check();
    const message = checkMessage(reason, "reason");
    const lease = this.#core.liveLease(claim, "deadLetter");
    const at = this.#core.now();
    this.#core.leases.remove(lease);
    await this.#core.commit({ tag: Tag.Dead, id: lease.id, at, reason: message });
  }

  /**
   * Give back a claim no handler ran on: the job is pending again at once,
   * ahead of later jobs, and the attempt its claim counted is given back (it
   * is removed instead when its cancellation was requested). Resolves once
   * that is durable. For work that did start, use {@link Queue.nack}: a
   * released claim must not have had side effects, since the job will run in
   * full again. `runWorker` releases the claims it prefetched but did not
   * start when it shuts down.
   *
   * @example
   * ```ts
   * const claim = await queue.claim("emails");
   * if (claim !== null && shuttingDown) await queue.release(claim);
   * ```
   */
  async release(claim: Claim): Promise<void> {
    this.#core.check();
    const lease = this.#core.liveLease(claim, "release");
    const record = decideRelease(this.#core.state, lease.job);
    this.#core.leases.remove(lease);
    const written = this.#core.commit(record);
    if (record.tag === Tag.Release) this.#core.dispatch(lease.queue);
    return written;
  }

  /**
   * Set the claim's lease to expire `extensionMs` from now (in memory only;
   * nothing is written). The lease runs on monotonic time; the wall time it
   * expires at is set as `claim.leaseExpiresAt` and returned.
   */
  async renewLease(claim: Claim, extensionMs: number): Promise<number> {
    this.#core.check();
    const ms = checkDuration(extensionMs, "extensionMs");
    const lease = this.#core.liveLease(claim, "renewLease");
    const expiresAt = this.#core.now() + ms;
    this.#core.leases.renew(lease, this.#core.monotonicNow() + ms);
    claim.leaseExpiresAt = expiresAt;
    return expiresAt;
  }

  /**
   * An `AbortSignal` that aborts when the claim's job is cancelled, its lease
   * is reaped, or the queue closes. Already aborted for a claim that is not live.
   */
  claimSignal(claim: Claim): AbortSignal {
    const lease = claim?.[CLAIM_TOKEN];
    if (!(lease instanceof Lease) || !this.#core.leases.isLive(lease))
      return AbortSignal.abort(new ClaimLostError(`claim on job ${claim?.id} is not live`));
    lease.controller ??= new AbortController();
    const flags = this.#core.state.table.read(lease.job).flags[slot(lease.job)]!;
    if (flags & Flag.CancelRequested) lease.abort(new Error(`job ${lease.id} was cancelled`));
    return lease.controller.signal;
  }

  // ---- events ----------------------------------------------------------------------------

  /**
   * Call `listener` on every `event` of a job's life: `"enqueued"`,
   * `"claimed"`, `"progress"`, `"completed"`, `"retried"`, `"expired"`,
   * `"dead"`, `"cancelled"`, `"released"`. Each event carries the job id and
   * queue.
   *
   * Events follow durability: a transition's event is emitted once it is
   * durable, in the order the transitions happened, and never for one that
   * did not become durable. A lease expiry emits `"expired"` and then the
   * job's next step. Listeners run synchronously on the event loop (keep them
   * short); one that throws or rejects is reported through the logger and
   * breaks nothing. Returns the queue.
   */
  on<E extends QueueEventName>(event: E, listener: QueueEventListener<E>): this {
    this.#events.on(event, listener);
    return this;
  }

  /** Remove a listener added with {@link on} (one registration of it). Returns the queue. */
  off<E extends QueueEventName>(event: E, listener: QueueEventListener<E>): this {
    this.#events.off(event, listener);
    return this;
  }

  // ---- management ------------------------------------------------------------------------

  /** A snapshot of the job, or `null` if it does not exist (never existed, or was removed). */
  async getJob(id: string): Promise<JobRecord | null> {
    this.#core.check();
    const h = this.#core.findJob(checkString(id, "id"));
    return h === -1 ? null : this.#core.toRecord(h);
  }

  /**
   * Cancel a job: a pending or scheduled one is removed; a claimed one is
   * flagged (its worker's signal aborts; if the delivery fails or expires the
   * job is removed rather than retried; an ack still completes it).
   */
  async cancel(id: string): Promise<CancelOutcome> {
    this.#core.check();
    const state = this.#core.state;
    const h = this.#core.findJob(checkString(id, "id"));
    if (h === -1) return "not_found";
    const status = state.statusOf(h);
    if (status === Status.Done || status === Status.Dead) return "not_found";
    const jobId = state.idOf(h);
    if (status !== Status.Claimed) {
      await this.#core.commit({ tag: Tag.Cancel, id: jobId });
      return "removed";
    }
    if ((state.table.read(h).flags[slot(h)]! & Flag.CancelRequested) === 0) {
      const written = this.#core.commit({ tag: Tag.CancelRequest, id: jobId });
      this.#core.leases.get(h)?.abort(new Error(`job ${jobId} was cancelled`));
      await written;
    }
    return "requested";
  }

  /** Counters of one queue (zeros for a queue that never held a job). */
  async stats(queue: string): Promise<QueueStats> {
    this.#core.check();
    return queueStats(this.#core.state, checkQueueName(queue));
  }

  /** Every queue that ever held a job, sorted. */
  async listQueues(): Promise<string[]> {
    this.#core.check();
    return queueNames(this.#core.state);
  }

  /** A page of dead jobs of `queue` in id order, strictly after the `after` id. */
  async deadJobs(queue: string, options: DeadJobsOptions = {}): Promise<JobRecord[]> {
    this.#core.check();
    const name = checkQueueName(queue);
    const { after, limit } = checkDeadJobsOptions(options);
    return deadJobsPage(this.#core.state, name, after, limit).map((h) => this.#core.toRecord(h));
  }

  /**
   * Put a dead job back to pending with attempts 0 and lastError/failedAt
   * cleared (enqueuedAt kept). `JobNotFoundError` unless it is dead right now.
   */
  async requeueDeadJob(job: JobRecord | string): Promise<void> {
    this.#core.check();
    const id = checkString(typeof job === "string" ? job : job?.id, "job");
    const state = this.#core.state;
    const h = this.#core.findJob(id);
    if (h === -1 || state.statusOf(h) !== Status.Dead)
      throw new JobNotFoundError(`requeueDeadJob: no dead job with id ${id}`);
    const name = state.queueOf(h).name;
    const written = this.#core.commit({ tag: Tag.RequeueDead, id: state.idOf(h) });
    this.#core.dispatch(name);
    await written;
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
   */
  async listJobs(
    queue: string,
    status: JobStatus,
    options: ListJobsOptions = {},
  ): Promise<JobPage<JobRecord>> {
    this.#core.check();
    const name = checkQueueName(queue);
    const checked = checkListJobs(status, options);
    const page = listJobsPage(this.#core.state, name, checked.status, checked.from, checked.limit);
    const jobs = page.jobs.map((h) => this.#core.toRecord(h));
    return page.nextCursor === undefined ? { jobs } : { jobs, nextCursor: page.nextCursor };
  }

  /**
   * Make one scheduled job due now (it becomes pending and claimable at
   * once). Resolves `"woken"` once that is durable, `"not_scheduled"` for a
   * job in another status, `"not_found"` for an unknown id.
   */
  async wakeScheduled(id: string): Promise<WakeOutcome> {
    this.#core.check();
    return wakeScheduled(this.#core, checkString(id, "id"));
  }

  /**
   * Pause `queue`, durably (a restart keeps it paused): claims of it hand out
   * nothing, and waiting claims keep waiting, until {@link resumeQueue};
   * enqueues still land, and claims already handed out can still be settled.
   * `stats(queue).paused` says so. Resolves once durable; pausing a paused
   * queue writes nothing. A queue paused before it held a job is listed by
   * {@link listQueues} from then on.
   */
  async pauseQueue(queue: string): Promise<void> {
    this.#core.check();
    await setPaused(this.#core, checkQueueName(queue), true);
  }

  /** Resume a paused queue (durably); waiting claims get its jobs at once. */
  async resumeQueue(queue: string): Promise<void> {
    this.#core.check();
    await setPaused(this.#core, checkQueueName(queue), false);
  }

  /**
   * Remove the jobs of `queue` in `status` (`"pending"`, `"scheduled"`,
   * `"done"` or `"dead"`; a claimed job is cancelled instead), or with
   * `olderThanMs` only those at least that old: by enqueue time for pending
   * and scheduled jobs, completion time for done ones, failure time for dead
   * ones. Jobs that arrive meanwhile are left alone. Runs as a series of
   * atomic writes of at most 512 jobs, one per turn of the event loop;
   * resolves with how many jobs it removed once that is durable.
   */
  async removeJobs(
    queue: string,
    status: RemovableStatus,
    options: RemoveJobsOptions = {},
  ): Promise<number> {
    this.#core.check();
    const name = checkQueueName(queue);
    const which = checkOneOf(status, "status", REMOVABLE_STATUSES);
    checkOptionsObject(options, "options");
    const olderThanMs =
      options.olderThanMs === undefined
        ? undefined
        : checkDuration(options.olderThanMs, "options.olderThanMs");
    return removeJobs(this.#core, name, which, olderThanMs);
  }

  /**
   * Put the dead jobs of `queue` back to pending, oldest id first, up to
   * `options.limit` of them (default: all), each like {@link requeueDeadJob}.
   * Runs as a series of atomic writes of at most 512 jobs, one per turn of
   * the event loop; resolves with how many it requeued once that is durable.
   */
  async requeueDeadJobs(queue: string, options: RequeueDeadJobsOptions = {}): Promise<number> {
    this.#core.check();
    const name = checkQueueName(queue);
    checkOptionsObject(options, "options");
    const limit =
      options.limit === undefined
        ? Number.POSITIVE_INFINITY
        : checkInteger(options.limit, "options.limit", 0);
    return requeueDeadJobs(this.#core, name, limit);
  }

  /** Promote every due scheduled job now. */
  async promoteScheduledNow(): Promise<void> {
    this.#core.check();
    await this.#core.promoteDue();
  }

  /** Run one reaper pass now: expire leases, then the retention sweeps. */
  async reapNow(): Promise<void> {
    this.#core.check();
    await this.#core.reap();
  }

  /** Resolve once everything logged so far is durable. */
  async flush(): Promise<void> {
    this.#core.check();
    await this.#core.log.flush();
  }

  /**
   * The resolved configuration of `queue`: `DEFAULT_QUEUE_CONFIG`, then
   * `options.defaultQueueConfig`, then `options.queueConfigs[queue]`. Frozen.
   */
  queueConfig(queue: string): Readonly<QueueConfig> {
    return this.#core.settings.configs.get(checkQueueName(queue));
  }

  /**
   * What opening with `log.recoverCorruption: "skip"` had to give up (damaged
   * and skipped objects, lost record counts); `null` when nothing was lost.
   */
  get recovery(): RecoveryReport | null {
    return this.#recovery;
  }

  /** The clock this queue reads time from. */
  get clock(): Clock {
    return this.#core.clock;
  }

  /** `true` once closed, or after the log failed (fenced, storage retries exhausted). */
  get closed(): boolean {
    return this.#core.closed;
  }

  /**
   * Requests this queue made to its store since it opened, by kind, and the
   * bytes it wrote (put bodies) and read (get bodies). Price them with
   * `estimateRequestCost`.
   */
  storeRequests(): RequestCounts {
    return this.#core.store.snapshot();
  }

  /** Log counters (batches, bytes written, checkpoints). */
  logStats(): ReturnType<Log["stats"]> {
    return this.#core.log.stats();
  }

  /**
   * Stop timers, end waiting claims (they resolve `null`), flush and write a
   * final checkpoint. Idempotent; later calls reject with `ClosedError`.
   */
  close(): Promise<void> {
    return this.#core.close();
  }
}
