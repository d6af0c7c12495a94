/**
 * Argument checks of the queue's own kinds of values — queue names, payloads,
 * priorities, attempts, timestamps, headers, stored strings — and of whole
 * option bags (`enqueue`, `claim`, `deadJobs`). Built on the shared checks in
 * `../validate.ts`, so every message has the same shape and names the
 * argument. Also used by the worker and the CLI (with flag names as `arg`).
 */
import {
  checkDuration,
  checkInteger,
  checkOptionalSignal,
  checkOptionsObject,
  checkPositiveDuration,
  checkString,
  invalidArgument,
  invalidArgumentGot,
} from "../validate.js";
import {
  type ClaimOptions,
  DEFAULT_DEAD_JOBS_LIMIT,
  type DeadJobsOptions,
  type EnqueueOptions,
  type QueueConfig,
} from "./options.js";
import type { Headers } from "./state.js";

const MAX_U32 = 2 ** 32 - 1;
export const MAX_QUEUE_NAME_BYTES = 255;

/**
 * Latest storable time: the end of the JavaScript `Date` range. Times are
 * persisted as varints, exact only below 2^53; this bound stays under it.
 */
export const MAX_TIMESTAMP_MS = 8_640_000_000_000_000;

/** A UTF-16 surrogate without its partner: not representable in UTF-8, so not storable as is. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Strings are stored as UTF-8; one with a lone surrogate would come back
 * changed after a restart (as U+FFFD), so names and keys must not have one.
 */
function checkWellFormed(value: string, arg: string): string {
  if (LONE_SURROGATE.test(value))
    throw invalidArgumentGot(
      arg,
      "well-formed Unicode (it is stored as UTF-8)",
      "a string with a lone surrogate",
    );
  return value;
}

/** A free-text message (an error, a reason): lone surrogates become U+FFFD now rather than at the next restart. */
export function checkMessage(value: unknown, arg: string): string {
  return checkString(value, arg).replace(new RegExp(LONE_SURROGATE.source, "g"), "\uFFFD");
}

/** A string that is stored (a dedup key): must be well-formed Unicode. */
export function checkStoredString(value: unknown, arg: string): string {
  return checkWellFormed(checkString(value, arg), arg);
}

export function checkQueueName(name: unknown, arg = "queue"): string {
  const expected = `a queue name of 1–${MAX_QUEUE_NAME_BYTES} UTF-8 bytes`;
  if (typeof name !== "string") throw invalidArgument(arg, expected, name);
  checkWellFormed(name, arg);
  const bytes = Buffer.byteLength(name, "utf8");
  if (bytes < 1 || bytes > MAX_QUEUE_NAME_BYTES)
    throw invalidArgumentGot(arg, expected, `${bytes} bytes`);
  return name;
}

export function checkPriority(value: unknown, arg: string): number {
  return checkInteger(value, arg, 0, MAX_U32);
}

export function checkMaxAttempts(value: unknown, arg: string): number {
  return checkInteger(value, arg, 1, MAX_U32);
}

/** A `Date | number` timestamp, as integer milliseconds. */
export function checkTimestamp(value: unknown, arg: string): number {
  const ms = value instanceof Date ? value.getTime() : value;
  if (typeof ms !== "number" || !Number.isFinite(ms) || ms > MAX_TIMESTAMP_MS)
    throw invalidArgument(
      arg,
      `a valid Date or a finite number of epoch milliseconds up to ${MAX_TIMESTAMP_MS}`,
      value,
    );
  return Math.ceil(ms);
}

export function checkHeaders(value: unknown, arg: string): Headers | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw invalidArgument(arg, "an object of string → string", value);
  const keys = Object.keys(value);
  if (keys.length === 0) return undefined;
  const copy: Record<string, string> = Object.create(null);
  for (const key of keys) {
    const v = (value as Record<string, unknown>)[key];
    if (typeof v !== "string") throw invalidArgument(`${arg}["${key}"]`, "a string", v);
    checkWellFormed(key, `${arg} key`);
    copy[key] = checkWellFormed(v, `${arg}[${JSON.stringify(key)}]`);
  }
  return copy;
}

/** A payload as a latin1 string (one char per byte), size-checked. */
export function checkPayload(value: unknown, maxBytes: number, arg = "payload"): string {
  let bytes: Buffer;
  if (typeof value === "string") bytes = Buffer.from(value, "utf8");
  else if (value instanceof Uint8Array)
    bytes = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  else throw invalidArgument(arg, "a Uint8Array or a string", value);
  if (bytes.length > maxBytes)
    throw invalidArgumentGot(
      arg,
      `at most ${maxBytes} bytes (maxPayloadBytes)`,
      `${bytes.length} bytes`,
    );
  return bytes.toString("latin1");
}

/** `enqueue` options, checked and completed from the queue's configuration. */
export interface CheckedEnqueueOptions {
  priority: number;
  maxAttempts: number;
  runAt: number | undefined;
  dedupKey: string | undefined;
  headers: Headers | undefined;
}

export function checkEnqueueOptions(
  options: EnqueueOptions,
  config: Readonly<QueueConfig>,
): CheckedEnqueueOptions {
  const o = options;
  return {
    priority:
      o.priority === undefined
        ? config.defaultPriority
        : checkPriority(o.priority, "options.priority"),
    maxAttempts:
      o.maxAttempts === undefined
        ? config.maxAttempts
        : checkMaxAttempts(o.maxAttempts, "options.maxAttempts"),
    runAt: o.runAt === undefined ? undefined : checkTimestamp(o.runAt, "options.runAt"),
    dedupKey:
      o.dedupKey === undefined ? undefined : checkStoredString(o.dedupKey, "options.dedupKey"),
    headers: checkHeaders(o.headers, "options.headers"),
  };
}

/** `claim` options, checked; the lease defaults to the queue's. */
export function checkClaimOptions(
  options: ClaimOptions,
  config: Readonly<QueueConfig>,
): { leaseMs: number; waitMs: number; signal: AbortSignal | undefined } {
  checkOptionsObject(options, "options");
  return {
    leaseMs:
      options.leaseMs === undefined
        ? config.leaseMs
        : checkPositiveDuration(options.leaseMs, "options.leaseMs"),
    waitMs: options.waitMs === undefined ? 0 : checkDuration(options.waitMs, "options.waitMs"),
    signal: checkOptionalSignal(options.signal, "options.signal"),
  };
}

/** Validated `deadJobs` options: an optional exclusive id cursor and a page size ≥ 0. */
export function checkDeadJobsOptions(options: DeadJobsOptions): {
  after: string | undefined;
  limit: number;
} {
  checkOptionsObject(options, "options");
  const { after, limit = DEFAULT_DEAD_JOBS_LIMIT } = options;
  const page = checkInteger(limit, "options.limit", 0, Infinity);
  return {
    after: after === undefined ? undefined : checkString(after, "options.after"),
    limit: page,
  };
}
