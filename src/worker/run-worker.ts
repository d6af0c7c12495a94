/**
 * The worker loop: claims jobs of one queue, runs the handler on up to
 * `concurrency` of them at a time and settles each from its outcome (ack,
 * nack, dead-letter), until shutdown or until the queue closes or fails.
 */
import { ClosedError } from "../errors.js";
import { consoleLogger, type Logger } from "../logger.js";
import type { ClaimOptions } from "../queue/options.js";
import type { Queue } from "../queue/queue.js";
import type { Claim } from "../queue/types.js";
import { checkQueueName } from "../queue/validate.js";
import {
  checkDuration,
  checkFunction,
  checkInteger,
  checkOptionalSignal,
  checkOptionsObject,
  checkPositiveDuration,
} from "../validate.js";
import { PermanentFailure } from "./permanent-failure.js";
import type { Handler, JobContext, WorkerOptions } from "./types.js";

const DEFAULT_POLL_INTERVAL_MS = 1_000;
/** Issued but not yet durable settlements before the worker stops claiming. */
const MAX_UNSETTLED = 4_096;

function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  return String(error);
}

/**
 * Claim jobs of `queueName` and run `handler` on each, up to `concurrency` at
 * a time. Returning acks the job, throwing nacks it with the error's message,
 * throwing {@link PermanentFailure} dead-letters it. A failed settlement (for
 * example a lease that was reaped meanwhile) is logged and the loop goes on.
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
  const leaseMs =
    options.leaseMs === undefined
      ? undefined
      : checkPositiveDuration(options.leaseMs, "options.leaseMs");
  const shutdown = checkOptionalSignal(options.signal, "options.signal");
  const logger = options.logger ?? consoleLogger;

  const claimOptions: ClaimOptions = {
    ...(leaseMs === undefined ? {} : { leaseMs }),
    waitMs: pollIntervalMs,
    ...(shutdown === undefined ? {} : { signal: shutdown }),
  };
  const inFlight = new Set<Promise<void>>();
  // Resolved (and replaced) whenever a slot frees up or shutdown is requested.
  let wake: () => void = () => {};
  const onShutdown = (): void => wake();
  shutdown?.addEventListener("abort", onShutdown, { once: true });

  // Settlements awaiting durability. A job's slot frees as soon as its
  // settlement is issued (the queue applies it at once), so throughput is not
  // capped at `concurrency` jobs per commit round-trip.
  const settling = new Set<Promise<void>>();

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
    let settlement: Promise<void>;
    try {
      await handler(claim, ctx);
      settlement = queue.ack(claim);
    } catch (error) {
      const message = messageOf(error);
      settlement =
        error instanceof PermanentFailure
          ? queue.deadLetter(claim, message)
          : queue.nack(claim, message);
    }
    const tracked: Promise<void> = settlement
      .catch((error: unknown) => reportSettlementFailure(logger, claim, error))
      .finally(() => {
        settling.delete(tracked);
        wake();
      });
    settling.add(tracked);
  };

  // The queue's own timers never hold the process open; a running worker should.
  const keepAlive = setInterval(() => {}, 2 ** 30);
  let failure: unknown = null;
  try {
    while (!shutdown?.aborted) {
      if (inFlight.size >= concurrency || settling.size >= MAX_UNSETTLED) {
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
        continue;
      }
      let claim: Claim | null;
      try {
        claim = await queue.claim(queueName, claimOptions);
      } catch (error) {
        if (!(error instanceof ClosedError)) failure = error;
        break;
      }
      if (claim === null) {
        // Without a wait, yield to I/O between empty polls instead of spinning on microtasks.
        if (pollIntervalMs === 0) await new Promise<void>((resolve) => setImmediate(resolve));
        continue;
      }
      const running: Promise<void> = process(claim).finally(() => {
        inFlight.delete(running);
        wake();
      });
      inFlight.add(running);
    }
  } finally {
    clearInterval(keepAlive);
    shutdown?.removeEventListener("abort", onShutdown);
    await Promise.allSettled(inFlight);
    await Promise.allSettled(settling);
  }
  if (failure !== null) throw failure;
}

function reportSettlementFailure(logger: Logger, claim: Claim, error: unknown): void {
  logger.warn(`worker: settling job ${claim.id} failed: ${messageOf(error)}`, {
    jobId: claim.id,
    queue: claim.queue,
    error,
  });
}
