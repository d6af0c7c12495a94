/** Defaults and validation of {@link LogOptions}. */
import { type Clock, systemClock } from "../clock.js";
import { InvalidArgumentError } from "../errors.js";
import { consoleLogger, type Logger } from "../logger.js";
import { DEFAULT_RETRY, type RetryPolicy } from "./retry.js";
import type { LogOptions } from "./types.js";

const MiB = 1024 * 1024;

export interface ResolvedLogOptions {
  clock: Clock;
  logger: Logger;
  flushIntervalMs: number;
  maxBatchBytes: number;
  maxUnflushedBytes: number;
  checkpointWalBytes: number;
  checkpointIntervalMs: number;
  checkpointWalBatches: number;
  gcMinAgeMs: number;
  manifestHistory: number;
  retry: RetryPolicy;
  allowUnsafeStore: boolean;
  recoverCorruption: "fail" | "skip";
  fenceCheckIntervalMs: number;
}

/** Fills in defaults; throws {@link InvalidArgumentError} naming the first bad option. */
export function resolveLogOptions(options: LogOptions = {}): ResolvedLogOptions {
  const retry = options.retry ?? {};
  return {
    clock: options.clock ?? systemClock,
    logger: options.logger ?? consoleLogger,
    flushIntervalMs: nonNegative("flushIntervalMs", options.flushIntervalMs, 2),
    maxBatchBytes: positive("maxBatchBytes", options.maxBatchBytes, 8 * MiB),
    maxUnflushedBytes: positive("maxUnflushedBytes", options.maxUnflushedBytes, 64 * MiB),
    checkpointWalBytes: positive("checkpointWalBytes", options.checkpointWalBytes, 64 * MiB),
    checkpointIntervalMs: positive("checkpointIntervalMs", options.checkpointIntervalMs, 600_000),
    checkpointWalBatches: positiveInteger(
      "checkpointWalBatches",
      options.checkpointWalBatches,
      4096,
    ),
    gcMinAgeMs: nonNegative("gcMinAgeMs", options.gcMinAgeMs, 60_000),
    manifestHistory: integer("manifestHistory", options.manifestHistory, 10),
    retry: {
      baseDelayMs: nonNegative("retry.baseDelayMs", retry.baseDelayMs, DEFAULT_RETRY.baseDelayMs),
      maxDelayMs: nonNegative("retry.maxDelayMs", retry.maxDelayMs, DEFAULT_RETRY.maxDelayMs),
      maxElapsedMs: nonNegative(
        "retry.maxElapsedMs",
        retry.maxElapsedMs,
        DEFAULT_RETRY.maxElapsedMs,
      ),
    },
    allowUnsafeStore: options.allowUnsafeStore ?? false,
    recoverCorruption: recoveryMode(options.recoverCorruption),
    fenceCheckIntervalMs: positive("fenceCheckIntervalMs", options.fenceCheckIntervalMs, 1_000),
  };
}

function recoveryMode(value: unknown): "fail" | "skip" {
  if (value === undefined || value === "fail" || value === "skip") return value ?? "fail";
  throw new InvalidArgumentError(
    `log option recoverCorruption: expected "fail" or "skip", got ${String(value)}`,
  );
}

function nonNegative(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !(value >= 0) || !Number.isFinite(value)) {
    throw new InvalidArgumentError(
      `log option ${name}: expected a finite number >= 0, got ${value}`,
    );
  }
  return value;
}

function positive(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !(value > 0) || !Number.isFinite(value)) {
    throw new InvalidArgumentError(
      `log option ${name}: expected a finite number > 0, got ${value}`,
    );
  }
  return value;
}

function integer(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new InvalidArgumentError(`log option ${name}: expected an integer >= 0, got ${value}`);
  }
  return value;
}

function positiveInteger(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new InvalidArgumentError(`log option ${name}: expected an integer >= 1, got ${value}`);
  }
  return value;
}
