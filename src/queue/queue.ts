/**
 * The public `Queue`: the job API over one queue store. This class owns the
 * public surface (its TSDoc is the API reference) and delegates by feature
 * area: opening (`open-queue.ts`), producers (`producers.ts`, `enqueue.ts`),
 * claiming (`claiming.ts`), settling claims (`settle.ts`), reads (`reads.ts`),
 * waiting for jobs (`completions.ts`), management (`admin.ts`), transactions
 * (`transaction.ts`), the KV namespace (`kv.ts`). Every change
 * is check → decide → apply → append through the core's `commit` (`core.ts`).
 */
import type { Clock } from "../clock.js";
import type { Log, RecoveryReport } from "../log/index.js";
import type { ObjectStore } from "../store/types.js";
import type { RequestCounts } from "../store/wrappers/counting.js";
import { checkInteger } from "../validate.js";
import * as admin from "./admin.js";
import { claimJobs } from "./claiming.js";
import { waitForCompletionOf } from "./completions.js";
import type { QueueCore } from "./core.js";
import type { EnqueueResult, JobInput } from "./enqueue.js";
import type { QueueEventListener, QueueEventName } from "./events.js";
import { childResults, enqueueFlow, type FlowJob, type FlowResult } from "./flows.js";
import { installHooks } from "./hooks.js";
import * as kv from "./kv.js";
import type { JobPage, ListJobsOptions } from "./listing.js";
import { openCore } from "./open-queue.js";
import type { RemovableStatus } from "./operations.js";
import {
  type AckOptions,
  type ClaimOptions,
  type DeadJobsOptions,
  type EnqueueOptions,
  type ListQueuesOptions,
  MAX_CLAIM_BATCH,
  type OpenOptions,
  type QueueConfig,
  type RemoveJobsOptions,
  type RequeueDeadJobsOptions,
  type WaitForCompletionOptions,
} from "./options.js";
import * as producers from "./producers.js";
import * as reads from "./reads.js";
import { listSchedulesOf, removeSchedule, setSchedule } from "./schedules/api.js";
import type { ScheduleInfo, ScheduleSpec } from "./schedules/types.js";
import * as settle from "./settle.js";
import { runTransaction, type Transaction, type TransactionResult } from "./transaction.js";
import type {
  CancelOutcome,
  Claim,
  Completion,
  JobAttempt,
  JobRecord,
  JobStatus,
  Payload,
  QueueStats,
  WakeOutcome,
} from "./types.js";
import { checkQueueName } from "./validate.js";

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
    installHooks(Queue.prototype, (queue) => (queue as Queue).#core);
  }

  readonly #core: QueueCore;
  #recovery: RecoveryReport | null = null;

  private constructor(core: QueueCore) {
    this.#core = core;
  }

  /**
   * Open (or create) the queue store at `path` inside `store`. Fences any
   * other live `Queue` on the same path. Jobs that were claimed when the
   * previous owner stopped are requeued at once (attempts kept) or, when out
   * of attempts, dead-lettered.
   *
   * @param path Where in `store` the queue store lives: its objects' keys
   *   start with `path` and "/" (a leading or trailing "/" is dropped; `""` is
   *   the store's root). Any string the store takes in its object keys:
   *   taquba refuses only a non-string itself. When the store refuses a key
   *   under `path` (FileStore and MemoryStore: empty, "." or ".." segments,
   *   NUL, backslash or a lone UTF-16 surrogate; AzureBlobStore: "." or ".."
   *   segments and backslash), this rejects with an `InvalidArgumentError`
   *   naming `path` and giving the store's reason. S3Store and GcsStore
   *   take any path; one without those pieces works on every store.
   *
   * Rejects with `CorruptionError` naming the object when the store is
   * damaged (see `log.recoverCorruption`). Damage visible before this call
   * takes the store over (the newest manifest, its checkpoint, the WAL after
   * it as then listed, lost manifests) leaves the store unchanged; damage
   * found after (in batches a live writer wrote meanwhile) leaves this
   * opener's manifest and WAL fence behind, so that writer is fenced out.
   */
  static async open(store: ObjectStore, path: string, options: OpenOptions = {}): Promise<Queue> {
    const { core, recovery } = await openCore(store, path, options);
    const queue = new Queue(core);
    queue.#recovery = recovery ?? null;
    return queue;
  }

  // ---- producers -------------------------------------------------------------------------

  /**
   * Add a job; resolves with its id once it is durable. With a `dedupKey` held
   * by a pending or scheduled job of the same queue, resolves with that job's
   * id and writes nothing. With a `jobId` that a job of this store has,
   * rejects with `DuplicateJobIdError` and writes nothing.
   */
  enqueue(queue: string, payload: Payload, options: EnqueueOptions = {}): Promise<string> {
    return producers.enqueueOne(this.#core, queue, payload, options);
  }

  /**
   * Add several jobs atomically (all or none survive a crash) with the queue's
   * defaults; resolves with their ids in input order once durable.
   */
  enqueueBatch(queue: string, payloads: Payload[]): Promise<string[]> {
    return producers.enqueueBatchOf(this.#core, queue, payloads);
  }

  /**
   * Add several jobs, each with its own options, atomically (all or none
   * survive a crash); resolves once durable with one `{ id, created }` per
   * job in input order. A job whose `dedupKey` is held by a waiting job of
   * the queue, or by an earlier job of the same call, is not added: its
   * result has that job's id and `created: false`. A `jobId` that a job of
   * this store has, or that two jobs of the call share, rejects the whole
   * call with `DuplicateJobIdError`; any invalid job rejects it with
   * `InvalidArgumentError` naming it (`jobs[3].options.priority`), and so
   * does a list of more than {@link MAX_ENQUEUE_MANY} (10,000) jobs. Either
   * way nothing is written.
   */
  enqueueMany(queue: string, jobs: JobInput[]): Promise<EnqueueResult[]> {
    return producers.enqueueManyOf(this.#core, queue, jobs);
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
    const claims = await claimJobs(this.#core, queue, 1, options);
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
    return claimJobs(this.#core, queue, checkInteger(max, "max", 0, MAX_CLAIM_BATCH), options);
  }

  /**
   * Complete a claimed job: delete it, or keep it as done when the queue keeps
   * done jobs. With `options.result`, the done job is kept with its result
   * (for the queue's `resultRetentionMs`, or `keepDoneJobsMs` when that is
   * longer), read by `getJob(id).result` and `waitForCompletion`.
   */
  ack(claim: Claim, options: AckOptions = {}): Promise<void> {
    return settle.ackClaim(this.#core, claim, options);
  }

  /**
   * Fail a delivery: retry after the queue's backoff, or dead-letter the job
   * when it has no attempts left. A job whose cancellation was requested is
   * removed instead of retried.
   */
  nack(claim: Claim, error: string): Promise<void> {
    return settle.nackClaim(this.#core, claim, error);
  }

  /** Dead-letter a claimed job at once, whatever its attempts, with `reason` as lastError. */
  deadLetter(claim: Claim, reason: string): Promise<void> {
    return settle.deadLetterClaim(this.#core, claim, reason);
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
  release(claim: Claim): Promise<void> {
    return settle.releaseClaim(this.#core, claim);
  }

  /**
   * Set the claim's lease to expire `extensionMs` from now (in memory only;
   * nothing is written). The lease runs on monotonic time; the wall time it
   * expires at is set as `claim.leaseExpiresAt` and returned (at most
   * `MAX_TIMESTAMP_MS`, the end of the `Date` range, for a longer lease).
   */
  renewLease(claim: Claim, extensionMs: number): Promise<number> {
    return settle.renewClaimLease(this.#core, claim, extensionMs);
  }

  /**
   * An `AbortSignal` that aborts when the claim's job is cancelled, its lease
   * is reaped, or the queue closes. Already aborted for a claim that is not live.
   */
  claimSignal(claim: Claim): AbortSignal {
    return settle.signalOfClaim(this.#core, claim);
  }

  // ---- schedules -------------------------------------------------------------------------

  /**
   * Create or replace the durable schedule `name`: at every fire time of
   * `spec.cron` (in `spec.timezone`) or every `spec.everyMs`, enqueue
   * `spec.payload` into `spec.queue`. Resolves once it is durable.
   *
   * Exactly one job per fire time: a fire is one log record that enqueues the
   * job and marks the time as fired, so restarts, takeovers and wall-clock
   * steps never fire a time twice, and every fire time that comes while a
   * process owns the store fires. Times missed while none did follow
   * `spec.catchUp` (`"all"` fires at most the newest 1 000 of them).
   * Replacing a schedule keeps the times it fired accounted
   * for; setting one again exactly as it is changes and writes nothing (so an
   * application may declare its schedules at every start without restarting
   * an `everyMs` count). A bad cron expression or time zone, both or neither of `cron` and
   * `everyMs`, or `endAt` ≤ `startAt` reject with `InvalidArgumentError`
   * naming the field, and nothing is stored.
   *
   * @example
   * ```ts
   * await queue.schedule("nightly-report", {
   *   cron: "0 3 * * *", timezone: "Europe/Paris", queue: "reports", payload: "{}",
   * });
   * ```
   */
  schedule(name: string, spec: ScheduleSpec): Promise<void> {
    return setSchedule(this.#core, name, spec);
  }

  /** Remove schedule `name` (durably): `true`, or `false` when there was none. */
  unschedule(name: string): Promise<boolean> {
    return removeSchedule(this.#core, name);
  }

  /** Every schedule, by name, with its next fire time (`nextRunAt`, `null` when it ended). */
  listSchedules(): Promise<ScheduleInfo[]> {
    return listSchedulesOf(this.#core);
  }

  // ---- transactions and KV ---------------------------------------------------------------

  /**
   * Do several things atomically: `build` runs synchronously and adds
   * operations to `tx` (enqueue, ack, nack, deadLetter, cancel, kvPut,
   * kvDelete, kvCheck); they are checked together against the state and
   * committed as one log record, or none is. Claims and job statuses are
   * checked as they were before the transaction; a `kvCheck` sees the
   * transaction's own earlier KV writes. Resolves once durable with one
   * `{ id, created }` per enqueue and one outcome per cancel.
   *
   * Any invalid operation rejects the whole call and changes nothing: a bad
   * argument (`InvalidArgumentError`, also when `build` caught it), a claim
   * that is not live (`ClaimLostError`), a `kvCheck` that does not hold
   * (`ConflictError`), two operations on one job (`InvalidArgumentError`
   * naming both, whatever their order), more than
   * {@link MAX_TRANSACTION_OPS} (1,000) operations (`InvalidArgumentError`).
   * Two operations are on one job when they name the same id (a cancel's,
   * a claim's job, an enqueue's `jobId`; also an id no job has, so an id is
   * cancelled once, and never both enqueued and cancelled), when an
   * enqueue's `dedupKey` hits a job another operation acts on, or when a
   * cancel of a waiting flow parent would also cancel a child another
   * operation acts on. Only enqueues share a job: a later one with the same
   * `jobId` or `dedupKey` reports `created: false`.
   *
   * An enqueue whose `jobId` a job of this store already has does not fail
   * the transaction (unlike {@link enqueue}): it adds nothing and reports
   * `created: false`. So running a transaction again after it committed does
   * not add its jobs twice, as long as those jobs still exist; for a guard
   * that outlives them, `kvCheck` a marker key and `kvPut` it in the same
   * transaction (see the README, "Exactly-once effects").
   *
   * An enqueue whose `jobId` an earlier call not settled yet holds (an
   * {@link enqueueFlow}, or a call still writing its offloaded payloads)
   * makes the whole transaction wait for that call, then decide
   * (`created: false` if it committed). That wait has no bound against the
   * lease of a claim the transaction settles: if the lease ends meanwhile,
   * the transaction rejects with `ClaimLostError` and writes nothing. A
   * transaction with no such `jobId` never waits for another call.
   *
   * @example
   * ```ts
   * await queue.transaction((tx) => {
   *   tx.ack(claim);
   *   tx.enqueue("ship", order.id, { jobId: `ship-${order.id}` });
   *   tx.kvPut(`order/${order.id}/status`, "charged");
   * });
   * ```
   */
  transaction(build: (tx: Transaction) => void): Promise<TransactionResult> {
    return runTransaction(this.#core, build);
  }

  /**
   * Add a flow: a job with children (each may have children of its own), as
   * one atomic record. A job with children waits (it shows as `scheduled`
   * with `waitingChildren`, and nothing claims it) until each of its
   * children ended: acked, or cancelled; then it becomes pending, and its
   * handler reads the children's results with {@link childResults}. A child
   * that goes dead makes its waiting parent dead at once, its lastError
   * naming the child (and so on up the flow). Cancelling a waiting parent
   * cancels its children that have not ended.
   *
   * Resolves once durable with the ids in the flow's shape. A flow takes no
   * `dedupKey`, and a job with children no `runAt`/`delayMs`
   * (`InvalidArgumentError`); a `jobId` that is taken rejects the whole flow
   * with `DuplicateJobIdError`. Nothing is written then. The flow is read
   * (copied) during the call: changing its objects or reusing its payload
   * buffers once the call returned changes nothing enqueued. Its `jobId`s
   * are the flow's from the call on: an enqueue, transaction or flow made
   * afterwards with one of them, before the flow settled, waits for it,
   * then finds the id taken if the flow committed, or free if it failed.
   *
   * @example
   * ```ts
   * const flow = await queue.enqueueFlow({
   *   queue: "notify", payload: "order-1",
   *   children: [{ queue: "ship", payload: "order-1", children: [{ queue: "charge", payload: "order-1" }] }],
   * });
   * ```
   */
  enqueueFlow(flow: FlowJob): Promise<FlowResult> {
    return enqueueFlow(this.#core, flow);
  }

  /**
   * The results of the children of flow job `parentId`, by child id
   * (`undefined` for a child that has not ended, ended without a result,
   * was cancelled or went dead). Kept with the parent, however long the
   * children themselves are kept. Empty for an unknown id or a job without
   * children.
   */
  childResults(parentId: string): Promise<Record<string, Uint8Array | undefined>> {
    return childResults(this.#core, parentId);
  }

  /**
   * The value of the KV entry `key` (a copy), or `null`. Keys are strings of
   * 1 to 1 024 UTF-8 bytes; the KV namespace is separate from jobs and kept
   * in the store like them. Like every read, it answers only durable state:
   * a value written just before (by this process) is returned once its write
   * is durable, never before.
   */
  kvGet(key: string): Promise<Uint8Array | null> {
    return kv.kvGet(this.#core, key);
  }

  /**
   * Set the KV entry `key` to `value` (at most 256 KiB; a string is stored as
   * UTF-8); resolves once durable. A key or value over its limit, or a string
   * value with a lone surrogate, is an `InvalidArgumentError` and writes nothing.
   */
  kvPut(key: string, value: Payload): Promise<void> {
    return kv.kvPut(this.#core, key, value);
  }

  /** Remove the KV entry `key`; resolves (once durable) with whether it was there. */
  kvDelete(key: string): Promise<boolean> {
    return kv.kvDelete(this.#core, key);
  }

  /**
   * Set the KV entry `key` to `value` only if it holds `expected` now
   * (`null`: only if it is absent); resolves with whether it did, once that
   * is durable. A string `expected` or `value` with a lone surrogate is an
   * `InvalidArgumentError` (no stored value can equal such an `expected`).
   */
  kvCompareAndSet(key: string, expected: Payload | null, value: Payload): Promise<boolean> {
    return kv.kvCompareAndSet(this.#core, key, expected, value);
  }

  /**
   * A page of the KV entries whose key starts with `prefix` (`""`: all), in
   * key order (JavaScript string order). Pass `nextCursor` as
   * `options.cursor` for the next page; it is absent on the last page.
   */
  kvScan(prefix: string, options: kv.KvScanOptions = {}): Promise<kv.KvPage> {
    return kv.kvScan(this.#core, prefix, options);
  }

  // ---- events ----------------------------------------------------------------------------

  /**
   * Call `listener` on every `event` of a job's life: `"enqueued"`,
   * `"claimed"`, `"progress"`, `"completed"`, `"retried"`, `"expired"`,
   * `"dead"`, `"cancelled"`, `"released"`, `"removed"`, `"requeued"` (a
   * dead job back to pending), `"woken"` (`wakeScheduled`). Each event
   * carries the job id and queue.
   *
   * Events follow durability: a transition's event is emitted once it is
   * durable, in the order the transitions happened, and never for one that
   * did not become durable. A lease expiry emits `"expired"` and then the
   * job's next step. Listeners run synchronously on the event loop (keep them
   * short); one that throws or rejects is reported through the logger and
   * breaks nothing. Returns the queue.
   *
   * At most about a thousand listener calls are made per turn of the event
   * loop: the events of a large commit (a bulk enqueue or removal) arrive
   * over several turns, possibly after the call that made them resolved,
   * still in order. A `"progress"` reported while earlier events wait comes
   * after them. A listener is told of every step committed after `on`,
   * once it is durable; of a step committed before `on` and not yet
   * durable it may or may not be told (when only metrics observe, claims,
   * acks and enqueues are not kept for it). It is told no more after `off`,
   * even of a batch already being told. `close` resolves once every queued
   * event has been told.
   */
  on<E extends QueueEventName>(event: E, listener: QueueEventListener<E>): this {
    this.#core.events.on(event, listener);
    return this;
  }

  /** Remove a listener added with {@link on} (one registration of it). Returns the queue. */
  off<E extends QueueEventName>(event: E, listener: QueueEventListener<E>): this {
    this.#core.events.off(event, listener);
    return this;
  }

  // ---- management ------------------------------------------------------------------------

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
    return reads.readJob(this.#core, id);
  }

  /**
   * Wait until job `id` ends: resolves `{ status: "done", result? }` once it
   * is acked, `{ status: "dead", error }` once dead-lettered, `{ status:
   * "cancelled" }` once cancelled — each once that is durable — or `{ status:
   * "timeout" }` when `options.timeoutMs` passes first. A job that already
   * ended (and is still kept) answers at once — a cancelled one with
   * `"cancelled"` for its queue's `resultRetentionMs` after the cancel, from
   * its tombstone; an unknown id, or a job gone past its retention, is
   * `{ status: "not_found" }` — which is also what a job acked without a
   * result answers once it finished, unless its queue keeps done jobs
   * (`keepDoneJobsMs`; by default it is deleted at the ack), so start waiting
   * before it can finish. No polling: the wait is
   * woken by the transition itself, also for a job enqueued before a restart.
   * Rejects with `options.signal`'s reason when it aborts, and with
   * `ClosedError` (or the queue's failure) when the queue closes first.
   */
  waitForCompletion(id: string, options: WaitForCompletionOptions = {}): Promise<Completion> {
    return waitForCompletionOf(this.#core, id, options);
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
    return reads.readAttemptHistory(this.#core, id);
  }

  /**
   * Cancel a job: a pending or scheduled one is removed; a claimed one is
   * flagged (its worker's signal aborts; if the delivery fails or expires the
   * job is removed rather than retried; an ack still completes it). A removed
   * job leaves a tombstone: `waitForCompletion` answers `"cancelled"` and
   * `attemptHistory` shows its history for the queue's `resultRetentionMs`.
   */
  cancel(id: string): Promise<CancelOutcome> {
    return admin.cancelJob(this.#core, id);
  }

  /** Counters of one queue (zeros for a queue that never held a job). */
  stats(queue: string): Promise<QueueStats> {
    return reads.statsOf(this.#core, queue);
  }

  /**
   * Every queue that ever held a job, sorted; with `includePaused`, also
   * those paused before their first job (see {@link pauseQueue}).
   */
  listQueues(options: ListQueuesOptions = {}): Promise<string[]> {
    return reads.queuesOf(this.#core, options);
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
    return reads.readDeadJobs(this.#core, queue, options);
  }

  /**
   * Put a dead job back to pending with attempts 0 and lastError/failedAt
   * cleared (enqueuedAt kept). `JobNotFoundError` unless it is dead right now,
   * or when it belongs to a dead flow that lost a child to a removal (the
   * message names the child): such a parent never runs without that input.
   */
  requeueDeadJob(job: JobRecord | string): Promise<void> {
    return admin.requeueDead(this.#core, job);
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
    return reads.listJobsOf(this.#core, queue, status, options);
  }

  /**
   * Make one scheduled job due now (it becomes pending and claimable at
   * once). Resolves `"woken"` once that is durable, `"not_scheduled"` for a
   * job in another status or for a flow parent still waiting for its children
   * (it reads as `scheduled` but runs only once they ended), `"not_found"` for
   * an unknown id.
   */
  wakeScheduled(id: string): Promise<WakeOutcome> {
    return admin.wakeJob(this.#core, id);
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
    return admin.pauseOrResume(this.#core, queue, true);
  }

  /** Resume a paused queue (durably); waiting claims get its jobs at once. */
  resumeQueue(queue: string): Promise<void> {
    return admin.pauseOrResume(this.#core, queue, false);
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
   * meanwhile, even when a new job has taken its `jobId` since).
   */
  removeJob(job: JobRecord | string): Promise<boolean> {
    return admin.removeOne(this.#core, job);
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
   * that is durable.
   */
  removeJobs(
    queue: string,
    status: RemovableStatus,
    options: RemoveJobsOptions = {},
  ): Promise<number> {
    return admin.removeJobsOf(this.#core, queue, status, options);
  }

  /**
   * Put the dead jobs of `queue` back to pending, oldest first (by enqueue), up to
   * `options.limit` of them (default: all), each like {@link requeueDeadJob}.
   * Runs as a series of atomic writes of at most 256 jobs each, a few
   * milliseconds' worth per turn of the event loop; resolves with how many
   * it requeued once that is durable.
   */
  requeueDeadJobs(queue: string, options: RequeueDeadJobsOptions = {}): Promise<number> {
    return admin.requeueDeadJobsOf(this.#core, queue, options);
  }

  /** Promote every due scheduled job now. */
  promoteScheduledNow(): Promise<void> {
    return admin.promoteNow(this.#core);
  }

  /** Run one reaper pass now: expire leases, then the retention sweeps. */
  reapNow(): Promise<void> {
    return admin.reapNow(this.#core);
  }

  /** Resolve once everything logged so far is durable. */
  flush(): Promise<void> {
    return admin.flushNow(this.#core);
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

  /**
   * Log counters: what this writer wrote (batches, records, bytes,
   * checkpoints), the WAL written since the newest checkpoint (what a
   * reopen replays), and when that checkpoint was written
   * (`lastCheckpointAt`: the store's checkpoint this queue opened from,
   * until it writes its own; `null` while the store has none).
   */
  logStats(): ReturnType<Log["stats"]> {
    return this.#core.log.stats();
  }

  /**
   * Fire the schedules already due, stop timers, end waiting claims (they
   * resolve `null`), flush and write a final checkpoint, and tell the
   * listeners of `on` every event still queued. Idempotent: every call
   * answers with the outcome of the one close (other methods called after it
   * reject with `ClosedError`).
   *
   * When another process opened the store since and this queue had not
   * learnt of it yet, the close's final writes find the fence: the close
   * rejects with `FencedError`, and so does every later `close()` (nothing
   * is left to do; it is the same outcome). A queue that learnt of the fence
   * before closes without error: one of its writes met the fence (a call
   * that rejected with `FencedError`, a settlement of a `runWorker`, which
   * then resolves, or a background write such as the reaper's), or, with
   * `heartbeatMs`, the look for a newer writer after a beat found it. An
   * idle queue without a heartbeat writes nothing, so its close is the first
   * to find the fence.
   * In a `finally`, or on the way out of a process whose queue may have been
   * taken over, catch it:
   *
   * @example
   * ```ts
   * try {
   *   await runWorker(queue, "emails", handler, { signal });
   * } finally {
   *   await queue.close().catch((error) => {
   *     if (error.code !== "FENCED") throw error; // taken over: nothing left to flush
   *   });
   * }
   * ```
   */
  async close(): Promise<void> {
    // A fire due while this process owns the store is this process's to make:
    // the next owner's catch-up counts whatever it finds unfired as missed
    // before it took the store (and `catchUp: "none"` skips it).
    try {
      if (!this.#core.closed) await this.#core.schedules.fireDueNow();
    } finally {
      await this.#core.close();
    }
  }
}
