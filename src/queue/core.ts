/**
 * The running core of an open queue: the in-memory state and the log behind
 * it, the commit boundary every transition passes (`commit`: apply through the
 * one `apply`, append to the log, in one synchronous step, and tell the
 * observers once it is durable), claims and their leases, handing jobs to claim waiters, the scheduler and reaper passes, and
 * the queue's life cycle (start, close, failure). The public `Queue` checks
 * arguments and decides records; this core carries them out.
 *
 * Claiming itself is in `claiming.ts`, the sliced passes in `pass.ts`, the
 * scheduler's and reaper's passes in `timer-passes.ts`, the commit boundary
 * in `commit-boundary.ts` (and its path while observers listen in
 * `commit-observed.ts`), the states of the life
 * cycle (open, closing, failed) in `life.ts`, and settling the claims a
 * previous writer left in `interrupted.ts`.
 *
 * Bulk work (requeueing the claims a crashed process left, promoting a
 * cohort of due jobs, expiring many leases, retention sweeps) runs in slices
 * of a few milliseconds, one per turn of the event loop: a slice commits
 * records sized to the time it has left (a {@link StepSizer} per kind of
 * work, at most {@link BULK_RECORD_JOBS} jobs each) until its budget is
 * spent, so no transition blocks the process for long on a slow or loaded core.
 */
import { type Clock, type MonotonicClock, withMonotonic } from "../clock.js";
import type { Log } from "../log/index.js";
import { type Logger, unguardedLogger } from "../logger.js";
import type { MeteredStore } from "../store/wrappers/metered.js";
import type { RandomSource } from "../util/random.js";
import {
  type MonotonicNow,
  processNow,
  SLICE_MS,
  SliceBudget,
  TurnWindow,
} from "../util/slices.js";
import { claimable, claimFrom, lostToPayloads } from "./claiming.js";
import { CommitBoundary } from "./commit-boundary.js";
import { CompletionWaiters } from "./completions.js";
import type { QueueSettings } from "./config.js";
import { QueueEvents } from "./events.js";
import { PendingFlowJobIds } from "./flow-job-ids.js";
import type { Heartbeat } from "./heartbeat.js";
import { IdGenerator } from "./ids.js";
import type { Instrumentation } from "./instrument.js";
import { settleInterruptedClaims } from "./interrupted.js";
import { type Lease, LeaseTable, liveLeaseIn } from "./leases.js";
import { QueueLife } from "./life.js";
import { Observers } from "./observe.js";
import type { PayloadObjects } from "./payloads.js";
import type { QueueState } from "./queue-state.js";
import { RateLimits } from "./rate-limit.js";
import type { QueueRecord } from "./records/codec.js";
import { ScheduleRunner } from "./schedules/runner.js";
import { snapshotEncoder } from "./snapshot.js";
import type { State } from "./state.js";
import { leaseEndOf, wallTime } from "./time.js";
import { TimerPasses } from "./timer-passes.js";
import { QueueTimers } from "./timers.js";
import type { TransitionCause } from "./transition.js";
import type { Claim, JobRecord } from "./types.js";
import { jobToRecord } from "./views.js";
import { ClaimWaiters } from "./waiters.js";

function noop(): void {}

export class QueueCore {
  readonly log: Log;
  readonly state: State;
  readonly settings: QueueSettings;
  readonly clock: Clock;
  /**
   * The same clock with a monotonic reading (derived from `now()` when it has
   * none): what the queue's timers run on. Timers re-read a clock they cannot
   * see move every `schedulerIntervalMs`.
   */
  readonly timed: MonotonicClock;
  readonly ids: IdGenerator;
  /** The caller's `jobId`s of flows and other calls not settled yet (see `flow-job-ids.ts`). */
  readonly flowJobIds = new PendingFlowJobIds();
  readonly leases = new LeaseTable();
  /**
   * Empty claim results that came back empty only because every job they took
   * was lost to an unreadable payload object (see `lostToPayloads` in
   * `claiming.ts`); known by identity, so the arrays callers get stay plain.
   */
  readonly claimsLostToPayloads = new WeakSet<readonly Claim[]>();
  readonly waiters: ClaimWaiters;
  readonly timers: QueueTimers;
  /** Fires the durable schedules. */
  readonly schedules: ScheduleRunner;
  /** Claim rate windows of the rate-limited queues. */
  readonly rateLimits: RateLimits;
  /** Told about every durable transition (events, metrics, traces). */
  readonly observers: Observers;
  /** The store as the log uses it, counting requests and bytes. */
  readonly store: MeteredStore;
  /** Telemetry attached at open, or `null`. */
  instrumentation: Instrumentation | null = null;
  /**
   * The transaction whose `build` function runs now on this queue, or `null`
   * (`transaction.ts`): a write method called from it is refused, and fails it.
   */
  building: { refuse(error: unknown): void } | null = null;
  /** Listeners of `queue.on(...)`. */
  readonly events: QueueEvents;
  /** Callers of `waitForCompletion`. */
  readonly completions: CompletionWaiters;
  /** Offloaded payload objects. */
  readonly payloads: PayloadObjects;
  readonly logger: Logger;
  /** Whether the log reports to {@link logger} too (then its "log failed" line would repeat ours). */
  readonly #logLogsToQueueLogger: boolean;
  /** Open, closing or failed, and the steps between. */
  readonly #life = new QueueLife(this);
  /**
   * Enqueue calls on the general path (`enqueueJobs`) not yet committed:
   * while any is, a plain enqueue takes that path too, so that jobs are
   * added in the order of the calls.
   */
  enqueuesUncommitted = 0;
  /** Where every transition is applied and appended. */
  readonly #boundary: CommitBoundary;
  /** How long one slice of bulk work runs before the event loop gets a turn (ms). */
  sliceMs = SLICE_MS;
  /** The clock slices of bulk work run on: `performance.now()` unless a test passes its own. */
  readonly sliceNow: MonotonicNow;
  /**
   * The window every slice of this queue's work in one turn shares (bulk
   * operations, checkpoint encoding and checksums, log GC, the orphan
   * collection, the scheduler's planning and firing), and commits are
   * charged to: a turn runs about one slice however many of them resume in it.
   */
  readonly turnWindow: TurnWindow;
  /** The scheduler's and the reaper's passes. */
  readonly #passes = new TimerPasses(this);

  constructor(
    log: Log,
    state: State,
    resolved: {
      settings: QueueSettings;
      clock: Clock;
      logger: Logger;
      log: { readonly logger?: Logger | undefined };
    },
    store: MeteredStore,
    payloads: PayloadObjects,
    /** What slices run on and where ids draw their randomness: the process's unless a test passes its own. */
    seams: { sliceNow?: MonotonicNow; random?: RandomSource; turnWindow?: TurnWindow } = {},
  ) {
    this.sliceNow = seams.sliceNow ?? processNow;
    this.turnWindow = seams.turnWindow ?? new TurnWindow();
    this.payloads = payloads;
    this.log = log;
    this.store = store;
    this.state = state;
    this.settings = resolved.settings;
    this.clock = resolved.clock;
    this.timed = withMonotonic(resolved.clock, this.settings.schedulerIntervalMs);
    this.logger = resolved.logger;
    this.#logLogsToQueueLogger =
      unguardedLogger(resolved.log.logger) === unguardedLogger(resolved.logger);
    this.observers = new Observers(resolved.logger);
    this.events = new QueueEvents(
      this.observers,
      resolved.logger,
      this.settings.maxEventBacklogBytes,
    );
    this.completions = new CompletionWaiters(this.observers, this.timed);
    this.ids = new IdGenerator(state.lastId, log.stats().epoch, seams.random);
    this.waiters = new ClaimWaiters(this.timed);
    this.timers = new QueueTimers(this.timed, this.settings, {
      promote: () => this.#life.background("scheduler", () => this.promoteDue()),
      reap: () => this.#life.background("reaper", () => this.reap()),
    });
    this.schedules = new ScheduleRunner(this, this.timed, this.settings.schedulerIntervalMs);
    this.rateLimits = new RateLimits(this.timed);
    this.#boundary = new CommitBoundary(
      state,
      log,
      this.observers,
      payloads,
      () => this.now(),
      (queue) => this.dispatch(queue),
      { now: this.sliceNow, window: this.turnWindow },
    );
  }

  /**
   * Wires the log (failure, then snapshots), settles the claims of the
   * previous process (in slices), and starts the timers.
   */
  async start(ownedAt: number): Promise<void> {
    // Our line replaces the log's only where it would land: a separate `log.logger` still gets its own.
    this.log.onFailure((error) => this.#life.fail(error), { logsIt: this.#logLogsToQueueLogger });
    // Removals replayed from the log are durable: their payload objects can go.
    this.payloads.delete(this.state.payloadGarbage.splice(0));
    this.state.flowWoken.clear(); // replayed: nobody waits yet
    const requeued = await settleInterruptedClaims(this);
    if (requeued === null) return; // closed meanwhile
    if (requeued > 0) this.logger.info?.(`requeued ${requeued} interrupted claims`);
    if (this.closed) return; // closed as the last settling commit went out
    // Checkpoints start only now: one encoded (and stored) while the claims were requeued
    // would share every turn of the event loop with that requeue (at a million jobs, turns
    // of 25–35 ms at the open of a second writer), and would leave most of the requeue's
    // records for the next open to replay. The WAL holds them meanwhile.
    this.log.setSnapshotSource((reserve) =>
      snapshotEncoder(this.state, reserve, this.sliceNow, this.turnWindow),
    );
    this.#passes.rearmScheduler();
    this.timers.start();
    this.schedules.start(ownedAt);
  }

  /**
   * Current wall time in whole milliseconds. Throws `InvalidArgumentError`
   * for a clock reading before 1970 (or past the storable range): such a
   * time is never stored.
   */
  now(): number {
    return wallTime(this.clock);
  }

  /** Monotonic time in milliseconds (arbitrary origin): what leases and timers run on. */
  monotonicNow(): number {
    return this.timed.monotonicNow();
  }

  /** A slice of bulk work starting now, {@link sliceMs} long. */
  sliceBudget(): SliceBudget {
    const budget = new SliceBudget(this.sliceMs, this.sliceNow, this.turnWindow);
    budget.start();
    return budget;
  }

  /** Throws unless the queue is open: its failure, or `ClosedError`. */
  check(): void {
    this.#life.check();
  }

  /**
   * {@link check} for settling a lease still live or cancelling a job: also
   * passes in a close's steps before its log closes (see `QueueLife.checkSettle`).
   */
  checkSettle(): void {
    this.#life.checkSettle();
  }

  /** What failed the log for good (`FencedError`, `StorageError`), or `null`. */
  get failure(): Error | null {
    return this.#life.failure;
  }

  /** `true` once closed, or after the log failed. */
  get closed(): boolean {
    return this.#life.closed;
  }

  /** `true` once `close()` was called, before the queue counts as closed (see `QueueLife.closing`). */
  get closing(): boolean {
    return this.#life.closing;
  }

  /** `close()` was called (see `QueueLife.beginClose`). */
  beginClose(): void {
    this.#life.beginClose();
  }

  /** Calls `callback` once the queue closes or fails; returns its removal (see `QueueLife.onStopped`). */
  onStopped(callback: () => void): () => void {
    return this.#life.onStopped(callback);
  }

  /**
   * How many commits were applied so far: work decided over several turns
   * (`flow-admin.ts`) sees from it whether the state changed meanwhile.
   */
  get commits(): number {
    return this.#boundary.commits;
  }

  /**
   * The decide/apply boundary: applies `records` to the state and appends
   * them to the log in the same synchronous step; resolves once they are
   * durable (see {@link CommitBoundary.commit}).
   */
  commit(
    records: QueueRecord | readonly QueueRecord[],
    cause?: TransitionCause,
    /** The encodings of an array of `records`, one each, when made already. */
    encodedMany?: readonly Uint8Array[],
  ): Promise<void> {
    return this.#boundary.commit(records, cause, encodedMany);
  }

  /** {@link commit} of one record already encoded as `bytes` (see {@link CommitBoundary.commitEncoded}). */
  commitEncoded(record: QueueRecord, bytes: Uint8Array): Promise<void> {
    return this.#boundary.commitEncoded(record, bytes);
  }

  /** A background {@link commit}: failures surface through the log's failure handler. */
  commitInBackground(records: readonly QueueRecord[], cause?: TransitionCause): Promise<void> {
    if (records.length === 0) return Promise.resolve();
    const written = this.commit(records, cause);
    written.catch(noop);
    return written;
  }

  /**
   * Takes up to `max` pending jobs of `qs` for claims, or `null` when none is
   * pending; resolves once the claims are durable (see {@link claimFrom}).
   */
  claimBatchFrom(qs: QueueState, max: number, leaseMs: number): Promise<Claim[]> | null {
    return claimFrom(this, qs, max, leaseMs);
  }

  /** Hand pending jobs of `queue` to its waiters, oldest waiter first, each up to its batch size. */
  dispatch(queue: string): void {
    if (!this.waiters.has(queue)) return;
    const qs = this.state.queues.get(queue);
    if (qs === undefined) return;
    const limit = this.settings.configs.get(queue).rateLimit;
    this.waiters.serve(
      queue,
      () => claimable(this, qs),
      (leaseMs, max) => {
        const claims = this.claimBatchFrom(qs, max, leaseMs);
        // Every job taken was lost to an unreadable payload object: the waiter waits on.
        return claims?.then((handed) => (lostToPayloads(this, handed) ? null : handed)) ?? null;
      },
      () => this.dispatch(queue),
    );
    // Still waiting for the rate window: serve them, in order, once it has room again.
    // (Waiting for a group under its claim cap instead: a settlement dispatches again.)
    if (
      this.waiters.has(queue) &&
      qs.pending.size > 0 &&
      !qs.paused &&
      this.rateLimits.available(queue, limit) < 1
    )
      this.rateLimits.wake(queue, limit, () => this.dispatch(queue));
  }

  /** The handle of the job called `id`, or -1. */
  findJob(id: string): number {
    return this.state.findPublic(id);
  }

  /**
   * The live lease of `claim`, or `ClaimLostError` naming `operation`; a value
   * that is not a claim or job record at all (`null`, a string, `{ id }`) is
   * `InvalidArgumentError` naming `arg`. Only a failure looks at the value's shape.
   */
  liveLease(claim: Claim, operation: string, arg = "claim"): Lease {
    return liveLeaseIn(this.leases, claim, operation, arg);
  }

  /**
   * The public record of job `h`, with its lease expiry (as wall time) while
   * claimed; `id`, when the caller has it, is the job's generated id as a string.
   */
  toRecord(h: number, id?: string): JobRecord {
    const lease = this.leases.get(h);
    return jobToRecord(
      this.state,
      h,
      lease?.active ? this.wallTimeOf(lease.expiresAt) : undefined,
      lease?.progress,
      id,
    );
  }

  /**
   * The wall time a lease's monotonic deadline falls on, as seen now:
   * wallNow + (deadline − monoNow), at most {@link MAX_TIMESTAMP_MS} (see
   * {@link leaseEndOf}).
   */
  wallTimeOf(monotonicDeadline: number): number {
    return leaseEndOf(
      Math.ceil(Math.floor(this.clock.now()) + (monotonicDeadline - this.timed.monotonicNow())),
    );
  }

  /**
   * The scheduler's pass: promote every due scheduled job (see {@link TimerPasses.promoteDue}).
   * Resolves once its records are durable.
   */
  promoteDue(): Promise<void> {
    return this.#passes.promoteDue();
  }

  /**
   * The reaper's pass: expire due leases, then age out done and dead jobs
   * (see {@link TimerPasses.reap}). Resolves once its records are durable.
   */
  reap(): Promise<void> {
    return this.#passes.reap();
  }

  /** Beats from now on; stopped (with a closing beat on a clean close) when the queue closes. */
  attachHeartbeat(heartbeat: Heartbeat): void {
    this.#life.attachHeartbeat(heartbeat);
  }

  /**
   * Stops timers, ends waits and leases, then flushes and closes the log, and
   * resolves once the listeners have been told every event still queued
   * (all of it durable). Idempotent.
   */
  close(): Promise<void> {
    return this.#life.close();
  }
}
