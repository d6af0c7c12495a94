import { InvalidArgumentError } from "../errors.js";
import { PRIORITY_NORMAL, type QueueConfig } from "./types.js";
import {
  checkDuration,
  checkMaxAttempts,
  checkOptionalDuration,
  checkOptionsObject,
  checkPositiveDuration,
  checkPriority,
} from "./validate.js";

const DAY_MS = 86_400_000;

/** Defaults of {@link QueueConfig}. */
export const DEFAULT_QUEUE_CONFIG: Readonly<QueueConfig> = Object.freeze({
  maxAttempts: 3,
  leaseMs: 30_000,
  defaultPriority: PRIORITY_NORMAL,
  retryBackoffBaseMs: 1_000,
  retryBackoffMaxMs: 300_000,
  keepDoneJobsMs: null,
  deadRetentionMs: 7 * DAY_MS,
});

/** Merge `override` over `base`, validating every field that is set. */
export function mergeQueueConfig(
  base: Readonly<QueueConfig>,
  override: Partial<QueueConfig> | undefined,
  arg: string,
): Readonly<QueueConfig> {
  checkOptionsObject(override, arg);
  if (override === undefined) return base;
  const c = { ...base };
  if (override.maxAttempts !== undefined)
    c.maxAttempts = checkMaxAttempts(override.maxAttempts, `${arg}.maxAttempts`);
  if (override.leaseMs !== undefined)
    c.leaseMs = checkPositiveDuration(override.leaseMs, `${arg}.leaseMs`);
  if (override.defaultPriority !== undefined)
    c.defaultPriority = checkPriority(override.defaultPriority, `${arg}.defaultPriority`);
  if (override.retryBackoffBaseMs !== undefined)
    c.retryBackoffBaseMs = checkDuration(override.retryBackoffBaseMs, `${arg}.retryBackoffBaseMs`);
  if (override.retryBackoffMaxMs !== undefined)
    c.retryBackoffMaxMs = checkDuration(override.retryBackoffMaxMs, `${arg}.retryBackoffMaxMs`);
  if (override.keepDoneJobsMs !== undefined)
    c.keepDoneJobsMs = checkOptionalDuration(override.keepDoneJobsMs, `${arg}.keepDoneJobsMs`);
  if (override.deadRetentionMs !== undefined)
    c.deadRetentionMs = checkOptionalDuration(override.deadRetentionMs, `${arg}.deadRetentionMs`);
  return Object.freeze(c);
}

/** Resolved configuration of every queue, validated once at open. */
export class QueueConfigs {
  readonly #default: Readonly<QueueConfig>;
  readonly #perQueue = new Map<string, Readonly<QueueConfig>>();

  constructor(
    defaults: Partial<QueueConfig> | undefined,
    perQueue: Record<string, Partial<QueueConfig>> | undefined,
  ) {
    this.#default = mergeQueueConfig(DEFAULT_QUEUE_CONFIG, defaults, "defaultQueueConfig");
    if (perQueue !== undefined) {
      if (typeof perQueue !== "object" || perQueue === null)
        throw new InvalidArgumentError("queueConfigs: expected an object keyed by queue name");
      for (const [name, override] of Object.entries(perQueue))
        this.#perQueue.set(
          name,
          mergeQueueConfig(this.#default, override, `queueConfigs["${name}"]`),
        );
    }
  }

  get(queue: string): Readonly<QueueConfig> {
    return this.#perQueue.get(queue) ?? this.#default;
  }
}

/**
 * Delay before retry number `attempts` (1 after the first failed claim):
 * `min(base · 2^(attempts−1), max)`, or 0 when the base is 0.
 */
export function backoffMs(config: Readonly<QueueConfig>, attempts: number): number {
  if (config.retryBackoffBaseMs === 0) return 0;
  const exponent = Math.max(0, attempts - 1);
  // 2^1100 overflows to Infinity, which min() then caps: saturating by construction.
  return Math.min(config.retryBackoffBaseMs * 2 ** exponent, config.retryBackoffMaxMs);
}
