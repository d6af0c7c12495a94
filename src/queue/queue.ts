/**
 * The public `Queue`: the job API over one queue store. This class owns the
 * public surface (its TSDoc is the API reference) and delegates by feature
 * area: opening (`open-queue.ts`), producers (`producers.ts`, `enqueue.ts`),
 * claiming (`claiming.ts`), settling claims (`settle.ts`) and events. Its
 * schedules are declared in `queue-schedules.ts`, its management methods
 * (reads, waiting for jobs, `admin.ts`) in `queue-management.ts`, and its
 * transactions, flows and KV namespace in `queue-data.ts`: base classes it
 * extends, so their TSDoc is still `Queue`'s.
 *
 * Every change is check → decide → apply → append through the core's
 * `commit` (`core.ts`).
 */
import type { RecoveryReport } from "../log/index.js";
import type { ObjectStore } from "../store/types.js";
import { checkInteger } from "../validate.js";
import { claimJobs } from "./claiming.js";
import { closeQueue } from "./close-queue.js";
import type { QueueCore } from "./core.js";
import type { EnqueueResult, JobInput } from "./enqueue.js";
import type { QueueEventListener, QueueEventName } from "./event-types.js";
import { installHooks } from "./hooks.js";
import { type InternalOpen, openCore } from "./open-queue.js";
import {
  type AckOptions,
  type ClaimOptions,
  type EnqueueOptions,
  MAX_CLAIM_BATCH,
  type OpenOptions,
} from "./options.js";
import * as producers from "./producers.js";
import { QueueSchedules } from "./queue-schedules.js";
import { notReceiver } from "./receiver.js";
import * as settle from "./settle.js";
import { refusedInBuild } from "./transaction.js";
import type { Claim, Payload } from "./types.js";

/** Builds a `Queue` over an opened core; set by the class (its constructor is private). */
let queueOf: (core: QueueCore, recovery: RecoveryReport | undefined) => Queue;

/**
 * `Queue.open` with what only the package's own code may ask
 * ({@link InternalOpen}): not part of the public options, so no caller turns
 * it on by accident. Not exported from the package.
 */
export async function openQueueWith(
  store: ObjectStore,
  path: string,
  options: OpenOptions,
  internal: InternalOpen,
): Promise<Queue> {
  const { core, recovery } = await openCore(store, path, options, internal);
  return queueOf(core, recovery);
}

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
export class Queue extends QueueSchedules {
  static {
    installHooks(Queue.prototype, (queue) => (queue as Queue).#core);
    queueOf = (core, recovery) => {
      const queue = new Queue(core);
      queue.#recovery = recovery ?? null;
      return queue;
    };
  }

  /** The core of a method's `this`; for anything else a `TypeError` saying how to call it. */
  static #coreOf(receiver: unknown): QueueCore {
    if (typeof receiver === "object" && receiver !== null && #core in receiver)
      return receiver.#core;
    throw notReceiver("Queue", receiver);
  }
  readonly #core: QueueCore;
  #recovery: RecoveryReport | null = null;

  private constructor(core: QueueCore) {
    super(core as never);
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
   *   taquba refuses only a non-string itself, and, on S3Store, GcsStore and
   *   AzureBlobStore, a path too long for every key under it to stay within the
   *   1,024 bytes they take: at most 965 UTF-8 bytes (without those "/"), less
   *   the store's `prefix` and its "/" (Azure: characters, and at most 252
   *   "/"-separated segments less the prefix's). When the store refuses a key
   *   under `path` (FileStore and MemoryStore: empty, "." or ".." segments, NUL,
   *   backslash or a lone UTF-16 surrogate; AzureBlobStore: "." or ".." segments
   *   and backslash), this rejects with an `InvalidArgumentError` naming `path`
   *   and giving the store's reason. S3Store and GcsStore take any path; one
   *   without those pieces works on every store.
   *
   * Rejects with `CorruptionError` naming the object when the store is
   * damaged (see `log.recoverCorruption`). Damage visible before this call
   * takes the store over (the newest manifest, its checkpoint, the WAL after
   * it as then listed, lost manifests) leaves the store unchanged; damage
   * found after (in batches a live writer wrote meanwhile) leaves this
   * opener's manifest and WAL fence behind, so that writer is fenced out.
   */
  static async open(store: ObjectStore, path: string, options: OpenOptions = {}): Promise<Queue> {
    return openQueueWith(store, path, options, { schedules: true });
  }

  // ---- producers -------------------------------------------------------------------------

  /**
   * Add a job; resolves with its id once it is durable. With a `dedupKey` held
   * by a pending or scheduled job of the same queue, resolves with that job's
   * id and writes nothing. With a `jobId` that a job of this store has,
   * rejects with `DuplicateJobIdError` and writes nothing.
   */
  enqueue(queue: string, payload: Payload, options: EnqueueOptions = {}): Promise<string> {
    const core = Queue.#coreOf(this);
    return (
      refusedInBuild(core, "enqueue", "use `tx.enqueue`") ??
      producers.enqueueOne(core, queue, payload, options)
    );
  }

  /**
   * Add several jobs atomically (all or none survive a crash) with the queue's
   * defaults; resolves with their ids in input order once durable.
   */
  enqueueBatch(queue: string, payloads: Payload[]): Promise<string[]> {
    const core = Queue.#coreOf(this);
    return (
      refusedInBuild(core, "enqueueBatch", "use `tx.enqueue`") ??
      producers.enqueueBatchOf(core, queue, payloads)
    );
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
    const core = Queue.#coreOf(this);
    return (
      refusedInBuild(core, "enqueueMany", "use `tx.enqueue`") ??
      producers.enqueueManyOf(core, queue, jobs)
    );
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
    const claims = await claimJobs(Queue.#coreOf(this), queue, 1, options);
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
    return claimJobs(
      Queue.#coreOf(this),
      queue,
      checkInteger(max, "max", 0, MAX_CLAIM_BATCH),
      options,
    );
  }

  /**
   * Complete a claimed job: delete it, or keep it as done when the queue keeps
   * done jobs. With `options.result`, the done job is kept with its result
   * (for the queue's `resultRetentionMs`, or `keepDoneJobsMs` when that is
   * longer), read by `getJob(id).result` and `waitForCompletion`.
   */
  ack(claim: Claim, options: AckOptions = {}): Promise<void> {
    const core = Queue.#coreOf(this);
    return refusedInBuild(core, "ack", "use `tx.ack`") ?? settle.ackClaim(core, claim, options);
  }

  /**
   * Fail a delivery: retry after the queue's backoff, or dead-letter the job
   * when it has no attempts left. A job whose cancellation was requested is
   * removed instead of retried.
   */
  nack(claim: Claim, error: string): Promise<void> {
    const core = Queue.#coreOf(this);
    return refusedInBuild(core, "nack", "use `tx.nack`") ?? settle.nackClaim(core, claim, error);
  }

  /**
   * Dead-letter a claimed job at once, whatever its attempts, with `reason` as
   * lastError. A job whose cancellation was requested is removed instead
   * (cancelled, `reason` kept as its attempt's error), as by {@link nack}.
   */
  deadLetter(claim: Claim, reason: string): Promise<void> {
    const core = Queue.#coreOf(this);
    return (
      refusedInBuild(core, "deadLetter", "use `tx.deadLetter`") ??
      settle.deadLetterClaim(core, claim, reason)
    );
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
    return settle.releaseClaim(Queue.#coreOf(this), claim);
  }

  /**
   * Set the claim's lease to expire `extensionMs` from now (in memory only;
   * nothing is written). The lease runs on monotonic time; the wall time it
   * expires at is set as `claim.leaseExpiresAt` and returned (at most
   * `MAX_TIMESTAMP_MS`, the end of the `Date` range, for a longer lease).
   * A claim that is not live rejects with `ClaimLostError`, but only once
   * everything written before the call is durable (the settlement or reaping
   * that ended it may still be in flight; if that write fails, the call
   * rejects with the failure instead): on a slow store this takes a round
   * trip.
   */
  renewLease(claim: Claim, extensionMs: number): Promise<number> {
    return settle.renewClaimLease(Queue.#coreOf(this), claim, extensionMs);
  }

  /**
   * An `AbortSignal` that aborts when the claim's job is cancelled, its lease
   * is reaped, or the queue closes. Already aborted for a claim that is not live.
   */
  claimSignal(claim: Claim): AbortSignal {
    return settle.signalOfClaim(Queue.#coreOf(this), claim);
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
    Queue.#coreOf(this).events.on(event, listener);
    return this;
  }

  /** Remove a listener added with {@link on} (one registration of it). Returns the queue. */
  off<E extends QueueEventName>(event: E, listener: QueueEventListener<E>): this {
    Queue.#coreOf(this).events.off(event, listener);
    return this;
  }

  /**
   * What opening with `log.recoverCorruption: "skip"` had to give up (damaged
   * and skipped objects, lost record counts); `null` when nothing was lost.
   */
  get recovery(): RecoveryReport | null {
    Queue.#coreOf(this); // The brand check, so a detached getter gets the clear TypeError.
    return this.#recovery;
  }

  /**
   * Let the `schedule` and `unschedule` calls made before it write, fire the
   * schedules already due, stop timers, end waiting claims (they resolve
   * `null`, and so does a claim whose record was still being written or
   * whose offloaded payload was still being read: its job is given back,
   * pending again with its attempt not counted, as is the job of each claim
   * a `runWorker` holds ready without having started its handler: from this
   * call on, it starts none and claims nothing), flush and write a final
   * checkpoint, and tell the listeners of `on` every event still queued.
   * Idempotent: every call
   * answers with the outcome of the one close. Other methods called after it
   * reject with `ClosedError`, and so does new work (a claim, an enqueue)
   * from code the close runs, such as a claim signal's abort listener; from
   * there, settling a claim still live (`ack`, `nack`, `deadLetter`,
   * `release`, a transaction that only settles or cancels) and `cancel` are
   * accepted, and the close's last flush makes them durable.
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
    return closeQueue(Queue.#coreOf(this));
  }
}
