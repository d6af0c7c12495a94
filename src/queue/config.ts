/**
 * Settings resolution: turns `Queue.open` options into validated settings —
 * the per-queue configurations, the queue's own limits and timer periods,
 * the clock and logger (held once, beside the settings), and the options
 * handed to the log. Every check names the option as the caller wrote it.
 */
import { type Clock, systemClock } from "../clock.js";
import type { LogOptions } from "../log/index.js";
import { LOG_OPTION_KEYS, RETRY_OPTION_KEYS } from "../log/options.js";
import { consoleLogger, type Logger } from "../logger.js";
import {
  checkClock,
  checkDuration,
  checkInteger,
  checkLogger,
  checkOptionalDuration,
  checkOptionsObject,
  checkPositiveDuration,
  invalidArgument,
} from "../validate.js";
import { JOB_HINTS, OptionWarnings } from "./option-warnings.js";
import {
  DEFAULT_MAX_EVENT_BACKLOG_BYTES,
  DEFAULT_MAX_PAYLOAD_BYTES,
  DEFAULT_QUEUE_CONFIG,
  DEFAULT_REAPER_INTERVAL_MS,
  DEFAULT_SCHEDULER_INTERVAL_MS,
  OPEN_OPTION_KEYS,
  type OpenOptions,
  QUEUE_CONFIG_KEYS,
  type QueueConfig,
  RATE_LIMIT_KEYS,
} from "./options.js";
import { DEFAULT_PAYLOAD_OFFLOAD_BYTES } from "./payloads.js";
import { MAX_RATE_LIMIT } from "./rate-limit.js";
import {
  type ResolvedTelemetry,
  resolveTelemetry,
  TELEMETRY_OPTION_KEYS,
} from "./telemetry/options.js";
import { checkMaxAttempts, checkPriority, checkQueueName } from "./validate.js";

/** Merge `override` over `base`, validating every field that is set. */
export function mergeQueueConfig(
  base: Readonly<QueueConfig>,
  override: Partial<QueueConfig> | undefined,
  arg: string,
): Readonly<QueueConfig> {
  checkOptionsObject(override, arg);
  if (override === undefined) return base;
  const c = { ...base };
  const o = override;
  if (o.maxAttempts !== undefined)
    c.maxAttempts = checkMaxAttempts(o.maxAttempts, `${arg}.maxAttempts`);
  if (o.leaseMs !== undefined) c.leaseMs = checkPositiveDuration(o.leaseMs, `${arg}.leaseMs`);
  if (o.defaultPriority !== undefined)
    c.defaultPriority = checkPriority(o.defaultPriority, `${arg}.defaultPriority`);
  if (o.retryBackoffBaseMs !== undefined)
    c.retryBackoffBaseMs = checkDuration(o.retryBackoffBaseMs, `${arg}.retryBackoffBaseMs`);
  if (o.retryBackoffMaxMs !== undefined)
    c.retryBackoffMaxMs = checkDuration(o.retryBackoffMaxMs, `${arg}.retryBackoffMaxMs`);
  if (o.keepDoneJobsMs !== undefined)
    c.keepDoneJobsMs = checkOptionalDuration(o.keepDoneJobsMs, `${arg}.keepDoneJobsMs`);
  if (o.deadRetentionMs !== undefined)
    c.deadRetentionMs = checkOptionalDuration(o.deadRetentionMs, `${arg}.deadRetentionMs`);
  if (o.resultRetentionMs !== undefined)
    c.resultRetentionMs = checkDuration(o.resultRetentionMs, `${arg}.resultRetentionMs`);
  if (o.rateLimit !== undefined) c.rateLimit = checkRateLimit(o.rateLimit, `${arg}.rateLimit`);
  if (o.groupConcurrency !== undefined)
    c.groupConcurrency =
      o.groupConcurrency === null
        ? null
        : checkInteger(o.groupConcurrency, `${arg}.groupConcurrency`, 1);
  return Object.freeze(c);
}

/** `null`, or `{ max, perMs }` with `max` from 1 to {@link MAX_RATE_LIMIT} and `perMs` > 0. */
function checkRateLimit(value: unknown, arg: string): QueueConfig["rateLimit"] {
  if (value === null) return null;
  if (typeof value !== "object" || Array.isArray(value))
    throw invalidArgument(arg, "null or an object { max, perMs }", value);
  const { max, perMs } = value as { max?: unknown; perMs?: unknown };
  return Object.freeze({
    max: checkInteger(max, `${arg}.max`, 1, MAX_RATE_LIMIT),
    perMs: checkPositiveDuration(perMs, `${arg}.perMs`),
  });
}

/** Resolved configuration of every queue, validated once at open. */
export class QueueConfigs {
  readonly #default: Readonly<QueueConfig>;
  readonly #perQueue = new Map<string, Readonly<QueueConfig>>();

  constructor(
    defaults: Partial<QueueConfig> | undefined,
    perQueue: Record<string, Partial<QueueConfig>> | undefined,
  ) {
    this.#default = mergeQueueConfig(DEFAULT_QUEUE_CONFIG, defaults, "options.defaultQueueConfig");
    if (perQueue !== undefined) {
      if (typeof perQueue !== "object" || perQueue === null)
        throw invalidArgument("options.queueConfigs", "an object keyed by queue name", perQueue);
      for (const [name, override] of Object.entries(perQueue)) {
        // A key that is no queue name would be a setting that silently never applies.
        checkQueueName(name, "options.queueConfigs key");
        this.#perQueue.set(
          name,
          mergeQueueConfig(this.#default, override, `options.queueConfigs["${name}"]`),
        );
      }
    }
  }

  get(queue: string): Readonly<QueueConfig> {
    return this.#perQueue.get(queue) ?? this.#default;
  }
}

/** The queue's own settings (the clock and logger are held beside them, not in them). */
export interface QueueSettings {
  readonly configs: QueueConfigs;
  readonly maxPayloadBytes: number;
  readonly reaperIntervalMs: number;
  readonly schedulerIntervalMs: number;
  /** Writer heartbeat period; `null` = no heartbeat. */
  readonly heartbeatMs: number | null;
  /** Payloads above this many bytes are offloaded; `null` = never. */
  readonly payloadOffloadBytes: number | null;
  /** Most bytes of events not yet told to listeners. */
  readonly maxEventBacklogBytes: number;
  /** Tells the queue's logger, once each, of option keys it does not know. */
  readonly optionWarnings: OptionWarnings;
}

/** Warns of the keys of `Queue.open`'s options (and of the objects in them) that it does not know. */
function warnOfUnknownOpenKeys(options: OpenOptions, warnings: OptionWarnings): void {
  warnings.check(options, "options", OPEN_OPTION_KEYS, JOB_HINTS);
  warnings.check(
    options.defaultQueueConfig,
    "options.defaultQueueConfig",
    QUEUE_CONFIG_KEYS,
    JOB_HINTS,
  );
  warnings.check(
    options.defaultQueueConfig?.rateLimit,
    "options.defaultQueueConfig.rateLimit",
    RATE_LIMIT_KEYS,
    JOB_HINTS,
  );
  for (const [name, override] of Object.entries(options.queueConfigs ?? {})) {
    warnings.check(override, `options.queueConfigs["${name}"]`, QUEUE_CONFIG_KEYS, JOB_HINTS);
    warnings.check(
      override?.rateLimit,
      `options.queueConfigs["${name}"].rateLimit`,
      RATE_LIMIT_KEYS,
      JOB_HINTS,
    );
  }
  // The log's settings: spelling only (`maxAttempts` or `timeout` there are no job's).
  warnings.check(options.log, "options.log", LOG_OPTION_KEYS);
  warnings.check(options.log?.retry, "options.log.retry", RETRY_OPTION_KEYS);
  warnings.check(options.telemetry, "options.telemetry", TELEMETRY_OPTION_KEYS);
}

/** Everything `Queue.open` needs, resolved from its options. */
export interface ResolvedOpenOptions {
  readonly settings: QueueSettings;
  readonly clock: Clock;
  readonly logger: Logger;
  /** For `openLog`: `options.log` with the queue's logger and `flushIntervalMs` applied. */
  readonly log: LogOptions;
  /** `null`: no telemetry. */
  readonly telemetry: ResolvedTelemetry | null;
}

/** Fills in defaults; throws `InvalidArgumentError` naming the first bad option. */
export function resolveOpenOptions(options: OpenOptions = {}): ResolvedOpenOptions {
  checkOptionsObject(options, "options");
  // The probe's refusal tells people to set this; in the wrong place it would be silently ignored.
  if ((options as { allowUnsafeStore?: unknown }).allowUnsafeStore !== undefined)
    throw invalidArgument(
      "options.allowUnsafeStore",
      "absent (it belongs in `options.log`: `{ log: { allowUnsafeStore: true } }`)",
      (options as { allowUnsafeStore?: unknown }).allowUnsafeStore,
    );
  const maxPayloadBytes =
    options.maxPayloadBytes === undefined
      ? DEFAULT_MAX_PAYLOAD_BYTES
      : checkInteger(options.maxPayloadBytes, "options.maxPayloadBytes", 0, Infinity);
  const logger =
    options.logger === undefined ? consoleLogger : checkLogger(options.logger, "options.logger");
  const clock =
    options.clock === undefined ? systemClock : checkClock(options.clock, "options.clock");
  const settings: QueueSettings = {
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
    heartbeatMs:
      options.heartbeatMs === undefined || options.heartbeatMs === null
        ? null
        : checkPositiveDuration(options.heartbeatMs, "options.heartbeatMs"),
    payloadOffloadBytes:
      options.payloadOffloadBytes === undefined
        ? DEFAULT_PAYLOAD_OFFLOAD_BYTES
        : options.payloadOffloadBytes === null
          ? null
          : checkInteger(options.payloadOffloadBytes, "options.payloadOffloadBytes", 0, Infinity),
    maxEventBacklogBytes:
      options.maxEventBacklogBytes === undefined
        ? DEFAULT_MAX_EVENT_BACKLOG_BYTES
        : checkInteger(options.maxEventBacklogBytes, "options.maxEventBacklogBytes", 1, Infinity),
    optionWarnings: new OptionWarnings(logger),
  };
  checkOptionsObject(options.log, "options.log");
  // The log keeps real time unless told otherwise: its group-commit window must
  // elapse even while a test holds the queue's clock still.
  const log: LogOptions = { logger, ...options.log };
  if (options.flushIntervalMs !== undefined)
    log.flushIntervalMs = checkDuration(options.flushIntervalMs, "options.flushIntervalMs");
  const telemetry = resolveTelemetry(options.telemetry);
  warnOfUnknownOpenKeys(options, settings.optionWarnings);
  return { settings, clock, logger, log, telemetry };
}
