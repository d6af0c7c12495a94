/** The worker's public shapes: the handler, its context and the worker's options. */
import type { Logger } from "../logger.js";
import type { Transaction, TransactionResult } from "../queue/transaction.js";
import type { Claim, JsonValue } from "../queue/types.js";

/** What a handler gets besides the job. */
export interface JobContext {
  /**
   * Aborts when the job is cancelled, its lease is lost, the queue closes,
   * its `timeoutMs` passes, or a shutdown gives up waiting for the handler
   * (`WorkerOptions.shutdownTimeoutMs`).
   * It is made on first read, so it is not an own property of `ctx`: a copy
   * such as `{ ...ctx }` or `Object.assign({}, ctx)` has the functions but
   * not `signal` (read `ctx.signal`, or destructure it, instead).
   */
  signal: AbortSignal;
  /** Extend the lease to `extensionMs` from now; resolves with the new expiry. */
  renewLease(extensionMs: number): Promise<number>;
  /**
   * `Queue.transaction` for this job: settle it together with follow-up
   * work, e.g. `tx.ack(job)` with the next step's `tx.enqueue` and a
   * `tx.kvPut`, all committed as one record or none. When the transaction
   * acks, nacks or dead-letters this job, the worker does not settle it
   * again (the handler's return value or error is then not used); otherwise
   * the job is settled from the handler's outcome as usual.
   *
   * A `tx.enqueue` with a `jobId` that a flow not settled yet holds makes
   * the transaction wait for the flow, however long the flow takes: the
   * wait may outlast the job's lease, and the transaction then rejects with
   * `ClaimLostError`, writing nothing (the job is claimed again). Renew the
   * lease first, or keep such ids out of handlers' transactions, when a
   * big flow may hold them.
   */
  transaction(build: (tx: Transaction) => void): Promise<TransactionResult>;
  /**
   * Report the job's progress: any JSON value (at most 64 KiB as JSON text
   * and nested at most 1,000 arrays and objects deep; anything else throws
   * `InvalidArgumentError`). It is held in memory, shows
   * in `getJob(id).progress` and the `"progress"` event at once, and the
   * latest value is written with the job's settlement (kept with a retried,
   * dead or kept done job). Does nothing once the claim is no longer live.
   * @example
   * ```ts
   * ctx.progress({ done: 40, of: 100 });
   * ```
   */
  progress(value: JsonValue): void;
}

/**
 * Processes one job. Returning acks it; throwing nacks it with the error's
 * message (or dead-letters it for a `PermanentFailure`). Must be idempotent:
 * delivery is at least once.
 */
export type Handler = (job: Claim, ctx: JobContext) => unknown | Promise<unknown>;

/** Options of `runWorker`. */
export interface WorkerOptions {
  /**
   * Jobs processed at the same time.
   * @default 1
   * @example { concurrency: 8 }
   */
  concurrency?: number;
  /**
   * Claims held ready beyond the running handlers: a number (0 or more), or
   * `"auto"`. A claim is handed out only once it is durable, one commit
   * round-trip after it is asked for; ready claims let a slot that frees
   * start its next job at once, so throughput is not capped at `concurrency`
   * jobs per round-trip.
   *
   * `"auto"` holds about as many as the slots free during one round-trip:
   * the rate at which the worker's slots free times the round-trip of its
   * settlements (both measured as it goes), rounded down, at most
   * `concurrency`, and none until both are measured. Jobs far shorter than a
   * round-trip get up to one ready claim per slot; slow ones get few or none,
   * and so does one slot alone (`concurrency: 1`): without a ready claim it
   * cannot free faster than a round-trip. When jobs turn from short to long,
   * the claims taken ready just before wait for the long ones.
   *
   * A ready claim is a real claim: its job shows as claimed (`cancel` answers
   * `"requested"`, events and metrics count the claim, `taquba.job.duration`
   * includes its wait), its lease is renewed
   * until its handler starts (even with `autoRenew: false`, since no handler
   * could renew it), and other workers cannot take it; a job enqueued later
   * waits behind it, whatever its priority or group. A claim that also asks
   * for ready claims takes the jobs already there (only one for free slots
   * alone waits for jobs), and after one comes back short the worker asks
   * for no ready claims until a slot frees. On shutdown
   * (`signal` aborts) ready claims are not started: they are released
   * (`Queue.release`: pending again at once, their attempt not counted) and
   * that is durable before the worker resolves. The same holds for a claim
   * whose queue was paused (`pauseQueue`) after it was handed out: no
   * handler starts on it; when its turn to start comes it is released and
   * waits for `resumeQueue`. A clean `Queue.close` gives ready claims back
   * the same way. If the process dies (or the queue fails) while claims are
   * ready, the next open requeues them like any interrupted claim (counting
   * the attempt). That is why prefetching is off
   * by default: a handler that kills its process would otherwise also spend
   * an attempt of every job held ready beside it, and enough such crashes
   * dead-letter jobs whose handler never ran. Turn it on for short jobs whose
   * handlers do not crash the process, where the commit round-trip between
   * jobs matters.
   * @default 0
   * @example
   * ```ts
   * // 4 handlers at a time, 8 more claims kept ready to start at once
   * await runWorker(queue, "thumbnails", handler, { concurrency: 4, prefetch: 8, signal });
   * // as many ready as the slots free in one commit round-trip
   * await runWorker(queue, "pings", handler, { concurrency: 64, prefetch: "auto", signal });
   * ```
   */
  prefetch?: number | "auto";
  /**
   * Longest idle wait for a job before claiming again, in milliseconds. It is
   * a safety net only: the queue wakes a waiting claim as soon as a job is
   * claimable (enqueued, promoted at its `runAt`, retried, requeued by the
   * reaper, released, resumed, or let through once the rate window or its
   * group's cap has room), so a longer interval does not delay jobs. `0`
   * turns the frequent re-poll off: an idle worker waits for those wake-ups
   * (it does not claim in a loop), and re-checks only once a minute
   * (60 000 ms of the queue's clock), a safety net so that
   * a wake-up that never came delays a job by at most that, never stalls the
   * worker for good. Either way the wait ends at once when `signal` aborts
   * or the queue closes.
   * @default 1_000
   * @example
   * ```ts
   * // Rely on wake-ups; an idle worker claims once a minute at most.
   * await runWorker(queue, "emails", handler, { pollIntervalMs: 0 });
   * ```
   */
  pollIntervalMs?: number;
  /**
   * Lease of each claim, in milliseconds.
   * @default the queue's `leaseMs`
   * @example { leaseMs: 5 * 60_000 }
   */
  leaseMs?: number;
  /**
   * Renew each claim's lease while its handler runs (every third of the
   * lease, to `leaseMs` from then), so `leaseMs` bounds how fast a crashed
   * process's jobs come back, not how long a handler may run. A stall of the
   * event loop longer than the lease (synchronous work, a long garbage
   * collection, a suspended VM; with a `ManualClock`, one `advance` past the
   * lease) does not lose it either: a reaper pass that finds the lease of a
   * claim the worker is renewing run out renews it, as the overdue renewal
   * would have, instead of taking the job back. The worker renews a claim
   * from when it has it (held ready, then running) until it issues the
   * claim's settlement, after the handler returned; a claim whose offloaded
   * payload is still being read is not yet the worker's, and a stall then
   * can take it back, before any handler ran on it. With `false` the handler
   * renews its lease itself (`ctx.renewLease`) and the reaper takes the job
   * back once it ran out. If a lease is lost (that way, or the job was
   * cancelled), `ctx.signal` aborts and the job's settlement fails with one
   * logged line.
   * @default true
   * @example { autoRenew: false }
   */
  autoRenew?: boolean;
  /**
   * Shutdown: stop claiming, let running handlers finish and settle, release
   * the claims held ready (see `prefetch`), then resolve once all of that is
   * durable. No handler starts after the signal aborts. See
   * `shutdownTimeoutMs` to bound the wait for running handlers.
   * @default none (runs until the queue closes)
   * @example { signal: controller.signal }
   */
  signal?: AbortSignal;
  /**
   * The longest a shutdown waits for running handlers, in milliseconds: a
   * bound for handlers that never return. The wait starts when `signal`
   * aborts, or when the queue closes or fails (a fence included), whichever
   * comes first. Handlers still running that long after are abandoned:
   * their `ctx.signal` aborts (if it has not already) with an `AbortError`
   * saying the worker shut down, their leases are no longer renewed, and
   * `runWorker` resolves without waiting for them.
   *
   * While the queue is open, each abandoned job's attempt fails (a nack
   * whose error says the worker shut down, counting the attempt, as a
   * job's `timeoutMs` does): it is retried after the queue's backoff, or
   * dead-lettered when out of attempts, so a handler that hangs on some job
   * cannot hold every worker that claims it for good. That is durable
   * before `runWorker` resolves. A job whose attempt already failed (its
   * `timeoutMs` passed) or whose claim was already lost is not settled
   * again. When the queue closed or failed first, nothing is written: the
   * next open of the store (or the new writer) requeues those jobs, as for
   * any interrupted claim. An abandoned handler that returns or throws
   * later changes nothing (its outcome is ignored, with one `debug` line).
   * Usually one warning names the handlers abandoned and the attempts
   * failed; after a fence that goes into the worker's fence line (on
   * `debug` when the worker's logger is the queue's), and when the queue
   * failed with a `StorageError`, `runWorker` rejects with it and logs
   * nothing of the abandoned handlers.
   *
   * A handler learns of the shutdown only when it is abandoned: its
   * `ctx.signal` aborts at the deadline, not when the shutdown starts. To
   * save work then, settle the job from the signal's abort listener in one
   * `ctx.transaction` (an ack with a result, with follow-up enqueues, say):
   * a transaction of the handler that settles its job and is still in
   * flight at the deadline is waited for like the worker's own settlements
   * (its claim still renewed), and the attempt fails only if that
   * transaction fails. One issued later finds the claim settled, and
   * rejects (`ClaimLostError`, or `ClosedError` / `FencedError` once the
   * queue stopped) with nothing written.
   *
   * `0` abandons running handlers as soon as the shutdown starts. Only
   * handlers are bounded: settlements and releases issued before the
   * deadline, and the transactions above, are still waited for.
   * @default none: waits for every running handler, however long it runs
   * @example
   * ```ts
   * // On SIGTERM, give running jobs 25 s, then fail their attempts and stop.
   * const shutdown = new AbortController();
   * process.once("SIGTERM", () => shutdown.abort());
   * await runWorker(queue, "emails", handler, {
   *   signal: shutdown.signal,
   *   shutdownTimeoutMs: 25_000,
   * });
   * await queue.close();
   * ```
   */
  shutdownTimeoutMs?: number;
  /**
   * Where settlement failures are reported.
   * @default console warnings and errors
   * @example { logger: silentLogger }
   */
  logger?: Logger;
}

/** Every key of {@link WorkerOptions}: `runWorker` warns of others (a misspelt option is ignored). */
export const WORKER_OPTION_KEYS: readonly string[] = Object.keys({
  concurrency: true,
  prefetch: true,
  pollIntervalMs: true,
  leaseMs: true,
  autoRenew: true,
  signal: true,
  shutdownTimeoutMs: true,
  logger: true,
} satisfies Record<keyof WorkerOptions, true>);
