import { type Clock, createTimer, systemClock, type TimerHandle } from "../clock.js";
import { ClaimLostError, ClosedError, InvalidArgumentError, JobNotFoundError } from "../errors.js";
import type { Log, LogOptions, RecoveryReport } from "../log/index.js";
import { openLog } from "../log/index.js";
import { consoleLogger, type Logger } from "../logger.js";
import type { ObjectStore } from "../store/types.js";
import { apply } from "./apply.js";
import { backoffMs, QueueConfigs } from "./config.js";
import { IdGenerator } from "./ids.js";
import { INSPECT_STATE } from "./inspect.js";
import { Lease, LeaseTable } from "./leases.js";
import { encodeRecord, type QueueRecord, Tag } from "./records.js";
import { restoreState } from "./restore.js";
import { encodeSnapshot } from "./snapshot.js";
import { type Job, type QueueState, type State, Status } from "./state.js";
import {
  type CancelOutcome,
  CLAIM_TOKEN,
  type Claim,
  type ClaimOptions,
  type DeadJobsOptions,
  type EnqueueOptions,
  type JobRecord,
  type OpenOptions,
  type Payload,
  type QueueConfig,
  type QueueStats,
} from "./types.js";
import {
  checkDeadJobsOptions,
  checkDuration,
  checkHeaders,
  checkMaxAttempts,
  checkMessage,
  checkOptionsObject,
  checkPayload,
  checkPositiveDuration,
  checkPriority,
  checkQueueName,
  checkStoredString,
  checkString,
  checkTimestamp,
  MAX_TIMESTAMP_MS,
} from "./validate.js";
import { deadJobsPage, jobToRecord, queueNames, queueStats } from "./views.js";

/** Default of {@link OpenOptions.maxPayloadBytes}. */
export const DEFAULT_MAX_PAYLOAD_BYTES = 16 * 1024 * 1024;
const DEFAULT_REAPER_INTERVAL_MS = 5_000;
const DEFAULT_SCHEDULER_INTERVAL_MS = 1_000;

/** lastError of a job whose lease ran out. */
export const LEASE_EXPIRED = "lease expired";
/** lastError of a job that was claimed when its process went away and had no attempts left. */
export const CLAIM_INTERRUPTED = "claim interrupted by process exit";

interface Waiter {
  readonly leaseMs: number;
  readonly resolve: (claim: Claim | null) => void;
  timer: TimerHandle | undefined;
}

interface QueueSettings {
  readonly clock: Clock;
  readonly logger: Logger;
  readonly configs: QueueConfigs;
  readonly maxPayloadBytes: number;
  readonly reaperIntervalMs: number;
  readonly schedulerIntervalMs: number;
}

function noop(): void {}

/**
 * A durable job queue store. Open one per store path and share it between
 * producers and workers of the process; see the package README.
 *
 * All job state is in memory and changes synchronously, in call order; each
 * change is also appended to the store's log. Calls that report an outcome
 * (enqueue, ack, nack, deadLetter, cancel, requeueDeadJob) resolve once their
 * change is durable; claims are logged without waiting. A new job is
 * claimable at once, before its enqueue is durable: if the log then fails
 * (fenced, storage down), that enqueue rejects although a worker may already
 * hold the job. Delivery is at least once.
 */
export class Queue {
  readonly #log: Log;
  readonly #state: State;
  readonly #ids: IdGenerator;
  readonly #settings: QueueSettings;
  readonly #clock: Clock;
  readonly #leases = new LeaseTable();
  /** Claim waiters per queue name, oldest first. */
  readonly #waiters = new Map<string, Waiter[]>();
  #failure: Error | null = null;
  #closing: Promise<void> | null = null;
  #schedulerTimer: TimerHandle | null = null;
  #schedulerDeadline = Number.POSITIVE_INFINITY;
  #reaperTimer: TimerHandle | null = null;
  #recovery: RecoveryReport | null = null;

  private constructor(log: Log, state: State, settings: QueueSettings) {
    this.#log = log;
    this.#state = state;
    this.#settings = settings;
    this.#clock = settings.clock;
    this.#ids = new IdGenerator(state.lastId);
  }

  /**
   * Open (or create) the queue store at `path` inside `store`. Fences any
   * other live `Queue` on the same path. Jobs that were claimed when the
   * previous owner stopped are requeued at once (attempts kept) or, when out
   * of attempts, dead-lettered.
   */
  static async open(store: ObjectStore, path: string, options: OpenOptions = {}): Promise<Queue> {
    checkOptionsObject(options, "options");
    const settings = resolveSettings(options);
    // The log keeps real time unless told otherwise: its group-commit window must
    // elapse even while a test holds the queue's clock still.
    const logOptions: LogOptions = { logger: settings.logger, ...options.log };
    if (options.flushIntervalMs !== undefined)
      logOptions.flushIntervalMs = checkDuration(
        options.flushIntervalMs,
        "options.flushIntervalMs",
      );
    const recovered = await openLog(store, path, logOptions);
    let state: State;
    try {
      state = restoreState(path, recovered.checkpoint, recovered.records);
    } catch (error) {
      await recovered.log.close().catch(noop);
      throw error;
    }
    const queue = new Queue(recovered.log, state, settings);
    queue.#start();
    if (recovered.recovery !== undefined) {
      queue.#recovery = recovered.recovery;
      // Commit the salvaged state now, so later opens start past the damaged objects.
      await recovered.log.checkpoint();
    }
    return queue;
  }

  #start(): void {
    this.#log.setSnapshotSource(() => encodeSnapshot(this.#state));
    this.#log.onFailure((error) => this.#fail(error));
    this.#requeueInterruptedClaims();
    this.#rearmScheduler();
    this.#armReaper();
  }

  // ---- producers -------------------------------------------------------------------------

  /**
   * Add a job; resolves with its id once it is durable. With a `dedupKey` held
   * by a pending or scheduled job of the same queue, resolves with that job's
   * id and writes nothing.
   */
  async enqueue(queue: string, payload: Payload, options: EnqueueOptions = {}): Promise<string> {
    this.#check();
    const name = checkQueueName(queue);
    checkOptionsObject(options, "options");
    const config = this.#settings.configs.get(name);
    const bytes = checkPayload(payload, this.#settings.maxPayloadBytes);
    const priority =
      options.priority === undefined
        ? config.defaultPriority
        : checkPriority(options.priority, "options.priority");
    const maxAttempts =
      options.maxAttempts === undefined
        ? config.maxAttempts
        : checkMaxAttempts(options.maxAttempts, "options.maxAttempts");
    const runAt =
      options.runAt === undefined ? undefined : checkTimestamp(options.runAt, "options.runAt");
    const dedupKey =
      options.dedupKey === undefined
        ? undefined
        : checkStoredString(options.dedupKey, "options.dedupKey");
    const headers = checkHeaders(options.headers, "options.headers");

    await this.#log.whenWritable();
    this.#check();
    if (dedupKey !== undefined) {
      const holder = this.#state.queues.get(name)?.dedup.get(dedupKey);
      if (holder !== undefined) {
        // The holder's own enqueue may still be in flight: answer once it is durable.
        await this.#log.flush();
        return holder.id;
      }
    }
    const now = this.#now();
    const id = this.#ids.next(now);
    const scheduled = runAt !== undefined && runAt > now;
    const written = this.#write({
      tag: Tag.Enqueue,
      id,
      queue: name,
      payload: bytes,
      headers,
      priority,
      maxAttempts,
      enqueuedAt: now,
      runAt: scheduled ? runAt : undefined,
      dedupKey,
    });
    if (scheduled) this.#scheduleAt(runAt);
    else this.#dispatch(name);
    await written;
    return id;
  }

  /**
   * Add several jobs atomically (all or none survive a crash) with the queue's
   * defaults; resolves with their ids in input order once durable.
   */
  async enqueueBatch(queue: string, payloads: Payload[]): Promise<string[]> {
    this.#check();
    const name = checkQueueName(queue);
    if (!Array.isArray(payloads))
      throw new InvalidArgumentError(
        "payloads: expected an array of Uint8Array or string payloads",
      );
    const config = this.#settings.configs.get(name);
    const bodies = payloads.map((p, i) =>
      checkPayload(p, this.#settings.maxPayloadBytes, `payloads[${i}]`),
    );
    if (bodies.length === 0) return [];
    await this.#log.whenWritable();
    this.#check();
    const now = this.#now();
    const records: QueueRecord[] = [];
    const ids: string[] = [];
    for (const payload of bodies) {
      const id = this.#ids.next(now);
      ids.push(id);
      records.push({
        tag: Tag.Enqueue,
        id,
        queue: name,
        payload,
        headers: undefined,
        priority: config.defaultPriority,
        maxAttempts: config.maxAttempts,
        enqueuedAt: now,
        runAt: undefined,
        dedupKey: undefined,
      });
    }
    const written = this.#writeAll(records);
    this.#dispatch(name);
    await written;
    return ids;
  }

  // ---- consumers -------------------------------------------------------------------------

  /**
   * Claim the next job of `queue` (lowest priority number, then oldest), or
   * `null`. With `waitMs`, waits up to that long for a job to arrive; each job
   * that becomes claimable wakes exactly one waiter.
   */
  async claim(queue: string, options: ClaimOptions = {}): Promise<Claim | null> {
    this.#check();
    const name = checkQueueName(queue);
    checkOptionsObject(options, "options");
    const leaseMs =
      options.leaseMs === undefined
        ? this.#settings.configs.get(name).leaseMs
        : checkPositiveDuration(options.leaseMs, "options.leaseMs");
    const waitMs =
      options.waitMs === undefined ? 0 : checkDuration(options.waitMs, "options.waitMs");
    const qs = this.#state.queues.get(name);
    // Queue behind earlier waiters rather than overtaking them.
    if (qs !== undefined && !this.#waiters.has(name)) {
      const claim = this.#claimFrom(qs, leaseMs);
      if (claim !== null) return claim;
    }
    const signal = options.signal;
    if (signal !== undefined && !(signal instanceof AbortSignal))
      throw new InvalidArgumentError("options.signal: expected an AbortSignal");
    if (waitMs === 0 || signal?.aborted) return null;
    return new Promise<Claim | null>((resolve) => {
      const stopWaiting = (): void => {
        this.#removeWaiter(name, waiter);
        waiter.timer?.cancel();
        resolve(null);
      };
      const waiter: Waiter = {
        leaseMs,
        resolve: (claim) => {
          signal?.removeEventListener("abort", stopWaiting);
          resolve(claim);
        },
        timer: undefined,
      };
      let list = this.#waiters.get(name);
      if (list === undefined) {
        list = [];
        this.#waiters.set(name, list);
      }
      list.push(waiter);
      waiter.timer = createTimer(this.#clock, this.#now() + waitMs, () => {
        signal?.removeEventListener("abort", stopWaiting);
        stopWaiting();
      });
      signal?.addEventListener("abort", stopWaiting, { once: true });
    });
  }

  /** Complete a claimed job: delete it, or keep it as done when the queue keeps done jobs. */
  async ack(claim: Claim): Promise<void> {
    this.#check();
    const lease = this.#liveLease(claim, "ack");
    const job = lease.job;
    const keep = this.#settings.configs.get(job.queue.name).keepDoneJobsMs !== null;
    this.#leases.remove(lease);
    await this.#write({ tag: Tag.Ack, id: job.id, keep, at: this.#now() });
  }

  /**
   * Fail a delivery: retry after the queue's backoff, or dead-letter the job
   * when it has no attempts left. A job whose cancellation was requested is
   * removed instead of retried.
   */
  async nack(claim: Claim, error: string): Promise<void> {
    this.#check();
    const message = checkMessage(error, "error");
    const lease = this.#liveLease(claim, "nack");
    const job = lease.job;
    const now = this.#now();
    this.#leases.remove(lease);
    if (job.cancelRequested) return this.#write({ tag: Tag.Cancel, id: job.id });
    if (job.attempts >= job.maxAttempts)
      return this.#write({ tag: Tag.Dead, id: job.id, at: now, reason: message });
    const delay = backoffMs(this.#settings.configs.get(job.queue.name), job.attempts);
    // A huge configured backoff must still give a time the log can store.
    const runAt = delay > 0 ? Math.min(Math.ceil(now + delay), MAX_TIMESTAMP_MS) : undefined;
    const written = this.#write({ tag: Tag.Retry, id: job.id, runAt, error: message });
    if (runAt === undefined) this.#dispatch(job.queue.name);
    else this.#scheduleAt(runAt);
    return written;
  }

  /** Dead-letter a claimed job at once, whatever its attempts, with `reason` as lastError. */
  async deadLetter(claim: Claim, reason: string): Promise<void> {
    this.#check();
    const message = checkMessage(reason, "reason");
    const lease = this.#liveLease(claim, "deadLetter");
    this.#leases.remove(lease);
    await this.#write({ tag: Tag.Dead, id: lease.job.id, at: this.#now(), reason: message });
  }

  /**
   * Set the claim's lease to expire `extensionMs` from now (in memory only;
   * nothing is written). Updates `claim.leaseExpiresAt` and returns it.
   */
  async renewLease(claim: Claim, extensionMs: number): Promise<number> {
    this.#check();
    const ms = checkDuration(extensionMs, "extensionMs");
    const lease = this.#liveLease(claim, "renewLease");
    const expiresAt = Math.ceil(this.#now() + ms);
    this.#leases.renew(lease, expiresAt);
    claim.leaseExpiresAt = expiresAt;
    return expiresAt;
  }

  /**
   * An `AbortSignal` that aborts when the claim's job is cancelled, its lease
   * is reaped, or the queue closes. Already aborted for a claim that is not live.
   */
  claimSignal(claim: Claim): AbortSignal {
    const lease = claim?.[CLAIM_TOKEN];
    if (!(lease instanceof Lease) || !this.#leases.isLive(lease))
      return AbortSignal.abort(new ClaimLostError(`claim on job ${claim?.id} is not live`));
    lease.controller ??= new AbortController();
    if (lease.job.cancelRequested) lease.abort(new Error(`job ${lease.job.id} was cancelled`));
    return lease.controller.signal;
  }

  // ---- management ------------------------------------------------------------------------

  /** A snapshot of the job, or `null` if it does not exist (never existed, or was removed). */
  async getJob(id: string): Promise<JobRecord | null> {
    this.#check();
    const job = this.#state.jobs.get(checkString(id, "id"));
    return job === undefined ? null : this.#toRecord(job);
  }

  /**
   * Cancel a job: a pending or scheduled one is removed; a claimed one is
   * flagged (its worker's signal aborts; if the delivery fails or expires the
   * job is removed rather than retried; an ack still completes it).
   */
  async cancel(id: string): Promise<CancelOutcome> {
    this.#check();
    const job = this.#state.jobs.get(checkString(id, "id"));
    if (job === undefined || job.status === Status.Done || job.status === Status.Dead)
      return "not_found";
    if (job.status !== Status.Claimed) {
      await this.#write({ tag: Tag.Cancel, id: job.id });
      return "removed";
    }
    if (!job.cancelRequested) {
      const written = this.#write({ tag: Tag.CancelRequest, id: job.id });
      this.#leases.get(job)?.abort(new Error(`job ${job.id} was cancelled`));
      await written;
    }
    return "requested";
  }

  /** Counters of one queue (zeros for a queue that never held a job). */
  async stats(queue: string): Promise<QueueStats> {
    this.#check();
    return queueStats(this.#state, checkQueueName(queue));
  }

  /** Every queue that ever held a job, sorted. */
  async listQueues(): Promise<string[]> {
    this.#check();
    return queueNames(this.#state);
  }

  /** A page of dead jobs of `queue` in id order, strictly after the `after` id. */
  async deadJobs(queue: string, options: DeadJobsOptions = {}): Promise<JobRecord[]> {
    this.#check();
    const name = checkQueueName(queue);
    const { after, limit } = checkDeadJobsOptions(options);
    return deadJobsPage(this.#state, name, after, limit).map((job) => this.#toRecord(job));
  }

  /**
   * Put a dead job back to pending with attempts 0 and lastError/failedAt
   * cleared (enqueuedAt kept). `JobNotFoundError` unless it is dead right now.
   */
  async requeueDeadJob(job: JobRecord | string): Promise<void> {
    this.#check();
    const id = checkString(typeof job === "string" ? job : job?.id, "job");
    const current = this.#state.jobs.get(id);
    if (current === undefined || current.status !== Status.Dead)
      throw new JobNotFoundError(`requeueDeadJob: no dead job with id ${id}`);
    const written = this.#write({ tag: Tag.RequeueDead, id });
    this.#dispatch(current.queue.name);
    await written;
  }

  /** Promote every due scheduled job now. */
  async promoteScheduledNow(): Promise<void> {
    this.#check();
    await this.#promoteDue();
  }

  /** Run one reaper pass now: expire leases, then the retention sweeps. */
  async reapNow(): Promise<void> {
    this.#check();
    await this.#reap();
  }

  /** Resolve once everything logged so far is durable. */
  async flush(): Promise<void> {
    this.#check();
    await this.#log.flush();
  }

  /** The resolved configuration of `queue`. */
  queueConfig(queue: string): Readonly<QueueConfig> {
    return this.#settings.configs.get(checkQueueName(queue));
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
    return this.#clock;
  }

  /** `true` once closed, or after the log failed (fenced, storage retries exhausted). */
  get closed(): boolean {
    return this.#closing !== null || this.#failure !== null;
  }

  /** @internal The live state, for invariant audits in tests (see `inspect.ts`). */
  [INSPECT_STATE](): State {
    return this.#state;
  }

  /** Log counters (batches, bytes written, checkpoints). */
  logStats(): ReturnType<Log["stats"]> {
    return this.#log.stats();
  }

  /**
   * Stop timers, end waiting claims (they resolve `null`), flush and write a
   * final checkpoint. Idempotent; later calls reject with `ClosedError`.
   */
  close(): Promise<void> {
    if (this.#closing === null) {
      this.#stop(new ClosedError("queue closed"));
      this.#closing = this.#failure === null ? this.#log.close() : this.#log.close().catch(noop);
    }
    return this.#closing;
  }

  // ---- internals -------------------------------------------------------------------------

  #now(): number {
    return Math.floor(this.#clock.now());
  }

  #check(): void {
    if (this.#failure !== null) throw this.#failure;
    if (this.#closing !== null) throw new ClosedError("queue is closed");
  }

  /** Apply a record to the state and append it to the log, in the same synchronous step. */
  #write(record: QueueRecord): Promise<void> {
    const bytes = encodeRecord(
      record,
      record.tag === Tag.Enqueue ? record.payload.length + 64 : 48,
    );
    apply(this.#state, record);
    return this.#log.append(bytes);
  }

  /** Like {@link #write} for several records that must be durable together. */
  #writeAll(records: readonly QueueRecord[]): Promise<void> {
    const encoded = records.map((r) =>
      encodeRecord(r, r.tag === Tag.Enqueue ? r.payload.length + 64 : 48),
    );
    for (const record of records) apply(this.#state, record);
    return this.#log.append(encoded);
  }

  /** A background write: failures surface through the log's failure handler. */
  #writeInBackground(records: readonly QueueRecord[]): Promise<void> {
    if (records.length === 0) return Promise.resolve();
    const written = this.#writeAll(records);
    written.catch(noop);
    return written;
  }

  #claimFrom(qs: QueueState, leaseMs: number): Claim | null {
    const job = qs.pending.minKey();
    if (job === undefined) return null;
    const now = this.#now();
    // Claims are logged but not awaited: attempts survive a crash, latency stays in memory.
    this.#writeInBackground([{ tag: Tag.Claim, id: job.id, at: now }]);
    const lease = this.#leases.add(job, Math.ceil(now + leaseMs));
    const record = this.#toRecord(job) as Claim & { [CLAIM_TOKEN]: Lease };
    record[CLAIM_TOKEN] = lease;
    return record;
  }

  /** Hand pending jobs of `queue` to its waiters, one job per waiter, oldest waiter first. */
  #dispatch(queue: string): void {
    const list = this.#waiters.get(queue);
    if (list === undefined) return;
    const qs = this.#state.queues.get(queue);
    if (qs === undefined) return;
    while (list.length > 0 && qs.pending.size > 0) {
      const waiter = list.shift()!;
      waiter.timer?.cancel();
      waiter.resolve(this.#claimFrom(qs, waiter.leaseMs));
    }
    if (list.length === 0) this.#waiters.delete(queue);
  }

  #removeWaiter(queue: string, waiter: Waiter): void {
    const list = this.#waiters.get(queue);
    if (list === undefined) return;
    const i = list.indexOf(waiter);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.#waiters.delete(queue);
  }

  #liveLease(claim: Claim, operation: string): Lease {
    const lease = (claim as Partial<Claim> | null | undefined)?.[CLAIM_TOKEN];
    if (!(lease instanceof Lease) || !this.#leases.isLive(lease))
      throw new ClaimLostError(
        `${operation}: the claim on job ${String(claim?.id)} is not live (already settled, lease reaped, or not a claim from this queue)`,
      );
    return lease;
  }

  #toRecord(job: Job): JobRecord {
    return jobToRecord(job, this.#leases.get(job)?.expiresAt);
  }

  /** The record that ends a delivery that failed without the handler's say (lease loss, crash). */
  #interruptedRecord(job: Job, now: number, reason: string): QueueRecord {
    if (job.cancelRequested) return { tag: Tag.Cancel, id: job.id };
    if (job.attempts >= job.maxAttempts) return { tag: Tag.Dead, id: job.id, at: now, reason };
    return {
      tag: Tag.Retry,
      id: job.id,
      runAt: undefined,
      error: reason === LEASE_EXPIRED ? reason : undefined,
    };
  }

  /** At open: every claimed job belonged to a process that is gone. */
  #requeueInterruptedClaims(): void {
    const now = this.#now();
    const records: QueueRecord[] = [];
    for (const qs of this.#state.queues.values())
      for (const job of qs.claimed)
        records.push(this.#interruptedRecord(job, now, CLAIM_INTERRUPTED));
    if (records.length > 0) {
      this.#settings.logger.info?.(`requeued ${records.length} interrupted claims`);
      this.#writeInBackground(records);
    }
  }

  #promoteDue(): Promise<void> {
    const now = this.#now();
    const due: string[] = [];
    for (const qs of this.#state.queues.values()) {
      const first = qs.scheduled.minKey();
      if (first !== undefined && first.at <= now) due.push(qs.name);
    }
    let written = Promise.resolve();
    if (due.length > 0) {
      written = this.#writeInBackground([{ tag: Tag.Promote, upTo: now }]);
      for (const name of due) this.#dispatch(name);
    }
    this.#rearmScheduler();
    return written;
  }

  /** Make sure the scheduler runs by `runAt` (and within one scheduler interval). */
  #scheduleAt(runAt: number): void {
    const deadline = Math.min(runAt, this.#now() + this.#settings.schedulerIntervalMs);
    if (deadline >= this.#schedulerDeadline) return;
    this.#schedulerTimer?.cancel();
    this.#schedulerDeadline = deadline;
    this.#schedulerTimer = createTimer(this.#clock, deadline, () => {
      this.#schedulerTimer = null;
      this.#schedulerDeadline = Number.POSITIVE_INFINITY;
      if (!this.closed) void this.#promoteDue();
    });
  }

  #rearmScheduler(): void {
    let earliest = Number.POSITIVE_INFINITY;
    for (const qs of this.#state.queues.values()) {
      const first = qs.scheduled.minKey();
      if (first !== undefined && first.at < earliest) earliest = first.at;
    }
    if (earliest !== Number.POSITIVE_INFINITY) this.#scheduleAt(earliest);
  }

  #armReaper(): void {
    this.#reaperTimer = createTimer(
      this.#clock,
      this.#now() + this.#settings.reaperIntervalMs,
      () => {
        this.#reaperTimer = null;
        if (this.closed) return;
        void this.#reap();
        this.#armReaper();
      },
    );
  }

  /** Expire due leases, then age out done and dead jobs per their queue's retention. */
  #reap(): Promise<void> {
    const now = this.#now();
    const records: QueueRecord[] = [];
    const requeued = new Set<string>();
    for (const lease of this.#leases.takeExpired(now)) {
      const job = lease.job;
      lease.abort(new ClaimLostError(`lease of job ${job.id} expired`));
      const record = this.#interruptedRecord(job, now, LEASE_EXPIRED);
      if (record.tag === Tag.Retry) requeued.add(job.queue.name);
      records.push(record);
    }
    for (const qs of this.#state.queues.values()) {
      const config = this.#settings.configs.get(qs.name);
      if (config.keepDoneJobsMs !== null) {
        const before = now - config.keepDoneJobsMs;
        const oldest = qs.done.minKey();
        if (oldest !== undefined && oldest.at < before)
          records.push({ tag: Tag.SweepDone, queue: qs.name, before });
      }
      if (config.deadRetentionMs !== null) {
        const before = now - config.deadRetentionMs;
        const oldest = qs.deadByTime.minKey();
        if (oldest !== undefined && oldest.at < before)
          records.push({ tag: Tag.SweepDead, queue: qs.name, before });
      }
    }
    const written = this.#writeInBackground(records);
    for (const name of requeued) this.#dispatch(name);
    return written;
  }

  /** Stop timers, release waiters and leases. */
  #stop(reason: Error): void {
    this.#schedulerTimer?.cancel();
    this.#schedulerTimer = null;
    this.#schedulerDeadline = Number.POSITIVE_INFINITY;
    this.#reaperTimer?.cancel();
    this.#reaperTimer = null;
    const waiters = [...this.#waiters.values()].flat();
    this.#waiters.clear();
    for (const waiter of waiters) {
      waiter.timer?.cancel();
      waiter.resolve(null);
    }
    this.#leases.clear(reason);
  }

  /** The log failed for good (fenced, storage): every later call rejects with `error`. */
  #fail(error: Error): void {
    if (this.#failure !== null) return;
    this.#failure = error;
    this.#settings.logger.error(`queue closed after a log failure: ${error.message}`, { error });
    this.#stop(error);
    if (this.#closing === null) this.#closing = this.#log.close().catch(noop);
  }
}

function resolveSettings(options: OpenOptions): QueueSettings {
  const maxPayloadBytes =
    options.maxPayloadBytes === undefined ? DEFAULT_MAX_PAYLOAD_BYTES : options.maxPayloadBytes;
  if (!Number.isInteger(maxPayloadBytes) || maxPayloadBytes < 0)
    throw new InvalidArgumentError(
      `options.maxPayloadBytes: expected an integer ≥ 0, got ${String(maxPayloadBytes)}`,
    );
  return {
    clock: options.clock ?? systemClock,
    logger: options.logger ?? consoleLogger,
    configs: new QueueConfigs(options.defaultQueueConfig, options.queueConfigs),
    maxPayloadBytes,
    reaperIntervalMs:
      options.reaperIntervalMs === undefined
        ? DEFAULT_REAPER_INTERVAL_MS
        : checkPositiveDuration(options.reaperIntervalMs, "options.reaperIntervalMs"),
    schedulerIntervalMs:
      options.schedulerIntervalMs === undefined
        ? DEFAULT_SCHEDULER_INTERVAL_MS
        : checkPositiveDuration(options.schedulerIntervalMs, "options.schedulerIntervalMs"),
  };
}
