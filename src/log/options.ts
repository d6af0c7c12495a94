/**
 * Options of the log engine: their declarations (each documented with its
 * default), their defaults, and their validation into {@link ResolvedLogOptions}.
 */
import { type Clock, type MonotonicClock, systemClock, withMonotonic } from "../clock.js";
import { consoleLogger, type Logger } from "../logger.js";
import {
  checkClock,
  checkDuration,
  checkInteger,
  checkLogger,
  checkOneOf,
  checkOptionsObject,
  checkPositiveBytes,
  checkPositiveDuration,
  invalidArgument,
} from "../validate.js";
import { WAL_WINDOW } from "./codec.js";

const MiB = 1024 * 1024;

/**
 * Options of the log engine. Every field has a production default; tests shrink
 * thresholds to exercise checkpoints and GC quickly.
 */
export interface LogOptions {
  /**
   * Time source. Intervals (group commit, retries, epoch checks, checkpoint
   * intervals) run on its monotonic reading; stored times (manifest and
   * checkpoint times, which GC ages are judged by) on its wall reading.
   * @default the system clock
   * @example { clock: new ManualClock(0) }
   */
  clock?: Clock;
  /**
   * Where retries, failed background checkpoints and log failures are reported.
   * @default console warnings and errors
   * @example { logger: silentLogger }
   */
  logger?: Logger;
  /**
   * Group-commit window: how long an open batch waits for more records before
   * it is sealed, when no write is in flight. `0`: no window — the batch is
   * sealed at once (after the current turn of the event loop, so records
   * appended together share it), and a lone producer waits one store round
   * trip per append. While writes are in flight, records accumulate and the
   * next batch is sealed the moment the last of them completes, or sooner as
   * one more write in flight once it is big enough (see `maxWritesInFlight`).
   * @default 0
   * @example { flushIntervalMs: 5 }
   */
  flushIntervalMs?: number;
  /**
   * WAL writes (creates) kept in flight at once. Batches are still
   * acknowledged strictly in WAL order; more writes in flight raise
   * throughput on a store with slow requests. A batch goes out alongside
   * those in flight when one append brings at least 32 records or 256 KiB by
   * itself, or when the batch holds that much and twice as much as the
   * newest write in flight: big appends and a load that grows are
   * pipelined, while a steady stream keeps to about one write
   * per store round trip. At most 8 (a constant of the storage protocol).
   * @default 4
   * @example { maxWritesInFlight: 8 }
   */
  maxWritesInFlight?: number;
  /**
   * Seal the open batch once it holds this many bytes.
   * @default 8 MiB
   * @example { maxBatchBytes: 1024 * 1024 }
   */
  maxBatchBytes?: number;
  /**
   * Backpressure: `whenWritable()` waits while this many appended bytes are not yet durable.
   * @default 64 MiB
   * @example { maxUnflushedBytes: 16 * 1024 * 1024 }
   */
  maxUnflushedBytes?: number;
  /**
   * Checkpoint once the WAL written since the last checkpoint exceeds max(this, last checkpoint size).
   * @default 64 MiB
   * @example { checkpointWalBytes: 16 * 1024 * 1024 }
   */
  checkpointWalBytes?: number;
  /**
   * Checkpoint once this many records were written since the last checkpoint,
   * or once they exceed the last checkpoint's size in bytes ÷ 1024 if that is
   * more. This bounds what a reopen after a crash replays: replaying a record
   * costs about as much as loading three or four jobs from a checkpoint, so
   * the WAL tail stays about half the checkpoint's load time (about 0.2 s at
   * a million live jobs) while a large state is not rewritten too often.
   *
   * It also bounds what a crash during a checkpoint leaves: while a
   * checkpoint is being written, producers (`whenWritable`: enqueues, KV
   * writes, transactions that do either) are held once the records since
   * the newest committed checkpoint exceed twice this bound (or twice the
   * size-based one), until that checkpoint ends. Claims and settlements are
   * not held. They are not held after a checkpoint failed, until one commits
   * again, nor for longer than twice the newest committed checkpoint's
   * duration (1–10 s), so a failing or slow store never stops appends.
   * Records are counted, not bytes: a bulk operation that is one record
   * counts as one.
   * @default 125_000
   * @example { checkpointWalRecords: 50_000 }
   */
  checkpointWalRecords?: number;
  /**
   * Checkpoint at least this often while records are written.
   * @default 600_000 (10 minutes)
   * @example { checkpointIntervalMs: 60_000 }
   */
  checkpointIntervalMs?: number;
  /**
   * Checkpoint once this many WAL batches were written since the last
   * checkpoint, or fewer with a small state: once they exceed the last
   * checkpoint's size in bytes ÷ 16 KiB, or 256 if that is more. Recovery
   * (a reopen after a crash, or a takeover of a busy writer) reads one object
   * per batch, so this bounds its request count even when batches are small,
   * and keeps it in proportion to the checkpoint's own read rather than to how
   * long the writer ran. A state of 64 MiB or more (a million live jobs is
   * about 100 MB) is checkpointed after this many batches, as before.
   *
   * The cost is checkpoint bytes: for a state of 4–64 MiB, checkpoints write
   * up to 16 KiB per WAL batch whatever the batch size (on a 200,000-job run,
   * 11 checkpoints and 100 MB against 4 and 60 MB with the fixed 4096-batch
   * bound). That is the price of the bounded takeover tail.
   *
   * On a store whose WAL creates take 2 ms or less (the median of the last
   * sixteen: a local disk, memory), a checkpoint that only the smaller bound
   * makes due waits until a second has passed since the last one (or until
   * four times that bound, at most this option, piled up): there a longer tail
   * costs an open milliseconds, and a small state under a busy writer is not
   * checkpointed several times a second.
   *
   * Set explicitly, it is the bound whatever the state's size or the store
   * (the smaller bound and the spacing apply to the default only).
   * @default 4096 (fewer with a small state, as above)
   * @example { checkpointWalBatches: 1024 }
   */
  checkpointWalBatches?: number;
  /**
   * Objects younger than this are never garbage-collected. GC runs after
   * checkpoints; after one started in the background, only when a quarter
   * of this has passed since the last pass.
   * @default 60_000
   * @example { gcMinAgeMs: 300_000 }
   */
  gcMinAgeMs?: number;
  /**
   * Manifests kept besides the newest.
   * @default 10
   * @example { manifestHistory: 3 }
   */
  manifestHistory?: number;
  /**
   * Retry policy for transient store errors.
   * @default see {@link RetryOptions}
   * @example { retry: { maxElapsedMs: 600_000 } }
   */
  retry?: RetryOptions;
  /**
   * Skip the create-if-absent probe. Only for stores known to be used by a
   * single process at a time: without conditional writes fencing cannot work.
   * @default false
   * @example { allowUnsafeStore: true }
   */
  allowUnsafeStore?: boolean;
  /**
   * What opening does with a damaged log (a corrupt, truncated or missing
   * manifest, checkpoint or WAL batch, or a gap in the WAL). `"fail"`:
   * reject with `CorruptionError` naming the object. `"skip"`: recover the
   * last consistent state — the newest intact checkpoint plus the unbroken
   * run of intact batches after it — and describe what was lost in
   * `RecoveredLog.recovery`. Records after the damage are lost even when
   * their batches are intact. A damaged newest manifest, and a log whose
   * manifests are all gone while its other objects remain, are refused
   * either way. Use only after copying the damaged objects aside.
   * @default "fail"
   * @example { recoverCorruption: "skip" }
   */
  recoverCorruption?: "fail" | "skip";
  /**
   * While writing, look this often for a newer writer's epoch and stop
   * (`FencedError`) once one exists, so a busy writer yields to a new opener
   * promptly. Costs one LIST (and GET) per interval, only while writing.
   * @default 1_000
   * @example { fenceCheckIntervalMs: 5_000 }
   */
  fenceCheckIntervalMs?: number;
  /**
   * `V` of the acknowledgement rule that makes collecting fences safe: a
   * batch is acknowledged only if its write completed less than `2V` after
   * the start of a look that found this writer's epoch still the newest
   * (busy writers look every `fenceCheckIntervalMs`; otherwise a look runs
   * alongside the write). A write that took longer is acknowledged only after
   * one more look. Must be well below `fenceMinAgeMs / 2`.
   * @default 30_000
   * @example { epochValidityMs: 10_000 }
   */
  epochValidityMs?: number;
  /**
   * Fences (the markers each opening writer leaves in the WAL) that a
   * checkpoint has covered are collected once older than this. Must be at
   * least `3 × epochValidityMs`, so that no stalled writer can still land a
   * write in a collected slot and have it acknowledged.
   * @default 600_000 (10 minutes), or `3 × epochValidityMs` when that is more
   * @example { fenceMinAgeMs: 3_600_000 }
   */
  fenceMinAgeMs?: number;
}

/** Every key of {@link LogOptions}. */
export const LOG_OPTION_KEYS: readonly string[] = Object.keys({
  clock: true,
  logger: true,
  flushIntervalMs: true,
  maxWritesInFlight: true,
  maxBatchBytes: true,
  maxUnflushedBytes: true,
  checkpointWalBytes: true,
  checkpointWalRecords: true,
  checkpointIntervalMs: true,
  checkpointWalBatches: true,
  gcMinAgeMs: true,
  manifestHistory: true,
  retry: true,
  allowUnsafeStore: true,
  recoverCorruption: true,
  fenceCheckIntervalMs: true,
  epochValidityMs: true,
  fenceMinAgeMs: true,
} satisfies Record<keyof LogOptions, true>);

/** Retries of transient store errors: capped exponential backoff with jitter. */
export interface RetryOptions {
  /**
   * First backoff delay.
   * @default 50
   * @example { baseDelayMs: 100 }
   */
  baseDelayMs?: number;
  /**
   * Cap of one backoff delay.
   * @default 5_000
   * @example { maxDelayMs: 30_000 }
   */
  maxDelayMs?: number;
  /**
   * Give up (the log fails with `StorageError`) after retrying this long.
   * @default 120_000
   * @example { maxElapsedMs: 600_000 }
   */
  maxElapsedMs?: number;
}

/** Every key of {@link RetryOptions}. */
export const RETRY_OPTION_KEYS: readonly string[] = Object.keys({
  baseDelayMs: true,
  maxDelayMs: true,
  maxElapsedMs: true,
} satisfies Record<keyof RetryOptions, true>);

/** Options of the read-only entry points (`readLog`, `inspectLog`). */
export interface ReadLogOptions {
  /**
   * Time source of retries and checkpoint ages.
   * @default the system clock
   * @example { clock: new ManualClock(0) }
   */
  clock?: Clock;
  /**
   * Where retries are reported.
   * @default console warnings and errors
   * @example { logger: silentLogger }
   */
  logger?: Logger;
  /**
   * Retry policy for transient store errors.
   * @default see {@link RetryOptions}
   * @example { retry: { maxElapsedMs: 10_000 } }
   */
  retry?: RetryOptions;
}

export type RetryPolicy = Required<RetryOptions>;

export const DEFAULT_RETRY: RetryPolicy = {
  baseDelayMs: 50,
  maxDelayMs: 5_000,
  maxElapsedMs: 120_000,
};

/** {@link LogOptions} with every default filled in and every value checked. */
export interface ResolvedLogOptions {
  clock: MonotonicClock;
  logger: Logger;
  flushIntervalMs: number;
  maxBatchBytes: number;
  maxUnflushedBytes: number;
  checkpointWalBytes: number;
  checkpointIntervalMs: number;
  checkpointWalBatches: number;
  /** Whether `checkpointWalBatches` was given: then it is the bound, whatever the state's size. */
  checkpointWalBatchesGiven: boolean;
  checkpointWalRecords: number;
  gcMinAgeMs: number;
  manifestHistory: number;
  retry: RetryPolicy;
  allowUnsafeStore: boolean;
  recoverCorruption: "fail" | "skip";
  fenceCheckIntervalMs: number;
  maxWritesInFlight: number;
  epochValidityMs: number;
  fenceMinAgeMs: number;
}

/**
 * Fills in defaults; throws `InvalidArgumentError` naming the first bad
 * option as `${arg}.<field>`.
 */
export function resolveLogOptions(options: LogOptions = {}, arg = "options"): ResolvedLogOptions {
  checkOptionsObject(options, arg);
  const o = options;
  const name = (field: string): string => `${arg}.${field}`;
  const epochValidityMs = optional(o.epochValidityMs, 30_000, (v) =>
    checkPositiveDuration(v, name("epochValidityMs")),
  );
  const fenceMinAgeMs = optional(o.fenceMinAgeMs, Math.max(600_000, 3 * epochValidityMs), (v) =>
    checkDuration(v, name("fenceMinAgeMs")),
  );
  if (fenceMinAgeMs < 3 * epochValidityMs) {
    throw invalidArgument(
      name("fenceMinAgeMs"),
      `at least 3 × ${name("epochValidityMs")} (${3 * epochValidityMs})`,
      fenceMinAgeMs,
    );
  }
  return {
    ...resolveReadOptions(options, arg),
    epochValidityMs,
    fenceMinAgeMs,
    maxWritesInFlight: optional(o.maxWritesInFlight, 4, (v) =>
      checkInteger(v, name("maxWritesInFlight"), 1, WAL_WINDOW),
    ),
    flushIntervalMs: optional(o.flushIntervalMs, 0, (v) =>
      checkDuration(v, name("flushIntervalMs")),
    ),
    maxBatchBytes: optional(o.maxBatchBytes, 8 * MiB, (v) =>
      checkPositiveBytes(v, name("maxBatchBytes")),
    ),
    maxUnflushedBytes: optional(o.maxUnflushedBytes, 64 * MiB, (v) =>
      checkPositiveBytes(v, name("maxUnflushedBytes")),
    ),
    checkpointWalBytes: optional(o.checkpointWalBytes, 64 * MiB, (v) =>
      checkPositiveBytes(v, name("checkpointWalBytes")),
    ),
    checkpointIntervalMs: optional(o.checkpointIntervalMs, 600_000, (v) =>
      checkPositiveDuration(v, name("checkpointIntervalMs")),
    ),
    checkpointWalBatchesGiven: o.checkpointWalBatches !== undefined,
    checkpointWalBatches: optional(o.checkpointWalBatches, 4096, (v) =>
      checkInteger(v, name("checkpointWalBatches"), 1),
    ),
    checkpointWalRecords: optional(o.checkpointWalRecords, 125_000, (v) =>
      checkInteger(v, name("checkpointWalRecords"), 1),
    ),
    gcMinAgeMs: optional(o.gcMinAgeMs, 60_000, (v) => checkDuration(v, name("gcMinAgeMs"))),
    manifestHistory: optional(o.manifestHistory, 10, (v) =>
      checkInteger(v, name("manifestHistory"), 0),
    ),
    allowUnsafeStore: o.allowUnsafeStore ?? false,
    recoverCorruption: optional(o.recoverCorruption, "fail", (v) =>
      checkOneOf(v, name("recoverCorruption"), ["fail", "skip"] as const),
    ),
    fenceCheckIntervalMs: optional(o.fenceCheckIntervalMs, 1_000, (v) =>
      checkPositiveDuration(v, name("fenceCheckIntervalMs")),
    ),
  };
}

/** The options every reader of a log needs (clock, logger, retries), resolved. */
export function resolveReadOptions(
  options: ReadLogOptions = {},
  arg = "options",
): { clock: MonotonicClock; logger: Logger; retry: RetryPolicy } {
  checkOptionsObject(options, arg);
  const retry = options.retry ?? {};
  checkOptionsObject(retry, `${arg}.retry`);
  const name = (field: string): string => `${arg}.retry.${field}`;
  return {
    clock: withMonotonic(
      options.clock === undefined ? systemClock : checkClock(options.clock, `${arg}.clock`),
    ),
    logger:
      options.logger === undefined ? consoleLogger : checkLogger(options.logger, `${arg}.logger`),
    retry: {
      baseDelayMs: optional(retry.baseDelayMs, DEFAULT_RETRY.baseDelayMs, (v) =>
        checkDuration(v, name("baseDelayMs")),
      ),
      maxDelayMs: optional(retry.maxDelayMs, DEFAULT_RETRY.maxDelayMs, (v) =>
        checkDuration(v, name("maxDelayMs")),
      ),
      maxElapsedMs: optional(retry.maxElapsedMs, DEFAULT_RETRY.maxElapsedMs, (v) =>
        checkDuration(v, name("maxElapsedMs")),
      ),
    },
  };
}

function optional<T>(value: T | undefined, fallback: T, check: (value: T) => T): T {
  return value === undefined ? fallback : check(value);
}
