/**
 * `runWorker`'s arguments checked, and its options with their defaults
 * filled in: everything is checked before anything is claimed.
 */
import { consoleLogger, type Logger } from "../logger.js";
import { JOB_HINTS, OptionWarnings } from "../queue/option-warnings.js";
import type { Queue } from "../queue/queue.js";
import { checkQueueName } from "../queue/validate.js";
import {
  checkBoolean,
  checkDuration,
  checkFunction,
  checkInteger,
  checkLogger,
  checkOptionalSignal,
  checkOptionsObject,
  checkPositiveDuration,
  hasMethods,
  integerRange,
  invalidArgument,
} from "../validate.js";
import { type Handler, WORKER_OPTION_KEYS, type WorkerOptions } from "./types.js";

export const DEFAULT_POLL_INTERVAL_MS = 1_000;

/**
 * How long a claim waits under `pollIntervalMs: 0`: for a wake-up, with a
 * slow re-check behind it. The queue wakes a waiting claim as soon as a job
 * is claimable, so no timed re-poll is needed; a wait of 0 would claim in a
 * loop, a core busy while idle. But a wait with no end would leave a worker
 * idle for good if a wake-up were ever missed (a bug, or a job made
 * claimable by a path that does not wake): once a minute costs an idle
 * worker one claim (no write) and bounds such a delay.
 */
export const IDLE_RECHECK_MS = 60_000;

/** A worker's options, checked, with their defaults. */
export interface WorkerSettings {
  readonly concurrency: number;
  readonly prefetch: number | "auto";
  readonly pollIntervalMs: number;
  /** The option's, else the queue's configured lease. */
  readonly leaseMs: number;
  readonly autoRenew: boolean;
  readonly shutdown: AbortSignal | undefined;
  /** `null`: no bound on the shutdown's wait for running handlers. */
  readonly shutdownTimeoutMs: number | null;
  readonly logger: Logger;
}

/**
 * Checks `runWorker`'s arguments (throwing `InvalidArgumentError` for a bad
 * one) and warns on `logger` of unknown option keys.
 */
export function workerSettings(
  queue: Queue,
  queueName: string,
  handler: Handler,
  options: WorkerOptions,
): WorkerSettings {
  if (!hasMethods(queue, ["queueConfig", "claimBatch", "ack", "nack", "renewLease"]))
    throw invalidArgument("queue", "a Queue (from Queue.open)", queue);
  checkQueueName(queueName, "queueName");
  checkFunction(handler, "handler", "a function (job, ctx) => unknown");
  checkOptionsObject(options, "options");
  const concurrency = checkInteger(options.concurrency ?? 1, "options.concurrency", 1, Infinity);
  const prefetch =
    options.prefetch === undefined
      ? 0
      : options.prefetch === "auto"
        ? "auto"
        : checkPrefetch(options.prefetch);
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
  const shutdownTimeoutMs =
    options.shutdownTimeoutMs === undefined
      ? null
      : checkDuration(options.shutdownTimeoutMs, "options.shutdownTimeoutMs");
  const logger =
    options.logger === undefined ? consoleLogger : checkLogger(options.logger, "options.logger");
  const leaseMs = leaseOption ?? queue.queueConfig(queueName).leaseMs;
  new OptionWarnings(logger).check(options, "runWorker options", WORKER_OPTION_KEYS, JOB_HINTS);
  return {
    concurrency,
    prefetch,
    pollIntervalMs,
    leaseMs,
    autoRenew,
    shutdown,
    shutdownTimeoutMs,
    logger,
  };
}

/** `prefetch` given as a number: claims held ready beyond the running handlers. */
function checkPrefetch(value: unknown): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0)
    throw invalidArgument("options.prefetch", `"auto" or ${integerRange(0)}`, value);
  return value;
}
