/**
 * The worker loop: claims jobs of one queue, runs the handler on up to
 * `concurrency` of them at a time, keeps their leases renewed while they run,
 * and settles each from its outcome (ack, nack, dead-letter), until shutdown
 * or until the queue closes or fails.
 */
import { ClaimLostError, ClosedError, FencedError, StorageError } from "../errors.js";
import { consoleLogger } from "../logger.js";
import { type ClaimOptions, MAX_CLAIM_BATCH } from "../queue/options.js";
import type { Queue } from "../queue/queue.js";
import type { Claim } from "../queue/types.js";
import { checkQueueName, MAX_MESSAGE_BYTES, truncateUtf8 } from "../queue/validate.js";
import {
  checkBoolean,
  checkDuration,
  checkFunction,
  checkInteger,
  checkOptionalSignal,
  checkOptionsObject,
  checkPositiveDuration,
} from "../validate.js";
import { keepRenewing } from "./lease-renewal.js";
import { PermanentFailure } from "./permanent-failure.js";
import type { Handler, JobContext, WorkerOptions } from "./types.js";

const DEFAULT_POLL_INTERVAL_MS = 1_000;
/** Issued but not yet durable settlements before the worker stops claiming. */
const MAX_UNSETTLED = 4_096;

function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  return String(error);
}

/** A failure of the whole queue (not of one job): the worker ends with it. */
function isQueueFailure(error: unknown): boolean {
  return error instanceof FencedError || error instanceof StorageError;
}

/**
 * Claim jobs of `queueName` and run `handler` on each, up to `concurrency` at
 * a time. Returning acks the job, throwing nacks it with the error's message
 * (cut to {@link MAX_MESSAGE_BYTES}), throwing {@link PermanentFailure}
 * dead-letters it. A handler starts only once its claim is durable. While it
 * runs, its lease is renewed every third of the lease (`autoRenew`); if the
 * lease is lost anyway (the job was cancelled, or the process stalled past
 * the lease), `ctx.signal` aborts and the failed settlement is logged as one
 * line. The loop goes on after a failed settlement.
 *
 * Resolves after `options.signal` aborts (claiming stops, in-flight jobs
 * finish and settle) or the queue is closed; rejects with the queue's failure
 * (`FencedError`, `StorageError`) once in-flight jobs ended.
 */
export async function runWorker(
  queue: Queue,
  queueName: string,
  handler: Handler,
  options: WorkerOptions = {},
): Promise<void> {
  checkQueueName(queueName, "queueName");
  checkFunction(handler, "handler", "a function (job, ctx) => unknown");
  checkOptionsObject(options, "options");
  const concurrency = checkInteger(options.concurrency ?? 1, "options.concurrency", 1, Infinity);
  const pollIntervalMs =
    options.pollIntervalMs === undefined
      ? DEFAULT_POLL_INTERVAL_MS
      : checkDuration(options.pollIntervalMs, "options.pollIntervalMs");
  const leaseOption =
    options.leaseMs === undefined
      ? undefined
      : checkPositiveDuration(options.leaseMs, "options.leaseMs");
  const autoRenew =
    options.autoRenew === undefined ? true : checkBoolean(options.autoRenew, "options.autoRenew");
  const shutdown = checkOptionalSignal(options.signal, "options.signal");
  const logger = options.logger ?? consoleLogger;
  const leaseMs = leaseOption ?? queue.queueConfig(queueName).leaseMs;

  const claimOptions: ClaimOptions = {
    leaseMs,
    waitMs: pollIntervalMs,
    ...(shutdown === undefined ? {} : { signal: shutdown }),
  };

  let failure: unknown = null;
  let stopped = false;
  /** Settlements refused because the queue closed under the worker (reported once, at the end). */
  let refusedByClose = 0;
  // Settlements awaiting durability. A job's slot frees as soon as its
  // settlement is issued (the queue applies it at once), so throughput is not
  // capped at `concurrency` jobs per commit round-trip.
  const settling = new Set<Promise<void>>();
  let settled: Array<() => void> = [];
  const wakeSettled = (): void => {
    const waiting = settled;
    settled = [];
    for (const wake of waiting) wake();
  };

  const settlementFailed = (claim: Claim, error: unknown): void => {
    if (error instanceof ClaimLostError) {
      logger.warn(
        `worker: job ${claim.id} of queue "${claim.queue}" lost its claim before it was settled ` +
          "(its lease ran out or it was cancelled); the queue retries or removes it as for an expired lease",
        { jobId: claim.id, queue: claim.queue },
      );
    } else if (error instanceof ClosedError) refusedByClose++;
    else if (isQueueFailure(error)) failure ??= error;
    else
      logger.warn(`worker: settling job ${claim.id} failed: ${messageOf(error)}`, {
        jobId: claim.id,
        queue: claim.queue,
        error,
      });
  };

  const process = async (claim: Claim): Promise<void> => {
    let signal: AbortSignal | undefined;
    const ctx: JobContext = {
      // Created on first use: most handlers never look, and signals are not free.
      get signal() {
        signal ??= queue.claimSignal(claim);
        return signal;
      },
      renewLease: (extensionMs) => queue.renewLease(claim, extensionMs),
    };
    const stopRenewing = autoRenew ? keepRenewing(queue, claim, leaseMs) : null;
    let settlement: Promise<void>;
    try {
      await handler(claim, ctx);
      stopRenewing?.();
      settlement = queue.ack(claim);
    } catch (error) {
      stopRenewing?.();
      const message = truncateUtf8(messageOf(error), MAX_MESSAGE_BYTES);
      try {
        settlement =
          error instanceof PermanentFailure
            ? queue.deadLetter(claim, message)
            : queue.nack(claim, message);
      } catch (settleError) {
        settlement = Promise.reject(settleError);
      }
    }
    const tracked: Promise<void> = settlement
      .catch((error: unknown) => settlementFailed(claim, error))
      .finally(() => {
        settling.delete(tracked);
        wakeSettled();
      });
    settling.add(tracked);
  };

  /** Handlers running now; the claim loop fills the free capacity. */
  let running = 0;
  let slotFreed: (() => void) | null = null;
  const run = (claim: Claim): void => {
    running++;
    void process(claim).finally(() => {
      running--;
      const wake = slotFreed;
      slotFreed = null;
      wake?.();
    });
  };

  /**
   * The claim loop: claims a batch sized to the free capacity (waiting up to
   * the poll interval for jobs to arrive), starts a handler per claim, and
   * waits for a slot to free up when all `concurrency` are busy.
   */
  const claimLoop = async (): Promise<void> => {
    while (!shutdown?.aborted && !stopped) {
      if (settling.size >= MAX_UNSETTLED) {
        await new Promise<void>((resolve) => settled.push(resolve));
        continue;
      }
      const free = concurrency - running;
      if (free <= 0) {
        await new Promise<void>((resolve) => {
          slotFreed = resolve;
        });
        continue;
      }
      let claims: Claim[];
      try {
        claims = await queue.claimBatch(queueName, Math.min(free, MAX_CLAIM_BATCH), claimOptions);
      } catch (error) {
        if (!(error instanceof ClosedError)) failure ??= error;
        stopped = true;
        return;
      }
      if (claims.length === 0) {
        if (queue.closed) stopped = true;
        // Without a wait, yield to I/O between empty polls instead of spinning on microtasks.
        else if (pollIntervalMs === 0) await new Promise<void>((resolve) => setImmediate(resolve));
        continue;
      }
      for (const claim of claims) run(claim);
    }
  };

  /** Resolves once every running handler finished (and issued its settlement). */
  const drained = async (): Promise<void> => {
    while (running > 0)
      await new Promise<void>((resolve) => {
        slotFreed = resolve;
      });
  };

  // The queue's own timers never hold the process open; a running worker should.
  const keepAlive = setInterval(() => {}, 2 ** 30);
  try {
    await claimLoop();
    await drained();
  } finally {
    clearInterval(keepAlive);
    await Promise.allSettled(settling);
  }
  if (refusedByClose > 0 && failure === null)
    logger.warn(
      `worker: ${refusedByClose} settlement(s) of queue "${queueName}" were refused because the queue closed; ` +
        "those jobs are requeued when the store is opened again",
    );
  if (failure !== null) throw failure;
}
