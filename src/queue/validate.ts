import { InvalidArgumentError } from "../errors.js";

/** Argument checks shared by the queue API. Each throws {@link InvalidArgumentError} naming the argument. */

const MAX_U32 = 2 ** 32 - 1;
export const MAX_QUEUE_NAME_BYTES = 255;

function describe(value: unknown): string {
  if (typeof value === "string")
    return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === "number" || typeof value === "boolean" || value == null)
    return String(value);
  if (value instanceof Date) return `Date(${value.getTime()})`;
  return typeof value;
}

/** A UTF-16 surrogate without its partner: not representable in UTF-8, so not storable as is. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Strings are stored as UTF-8; one with a lone surrogate would come back
 * changed after a restart (as U+FFFD), so names and keys must not have one.
 */
function checkWellFormed(value: string, arg: string): string {
  if (LONE_SURROGATE.test(value))
    throw new InvalidArgumentError(
      `${arg}: expected well-formed Unicode (it is stored as UTF-8), got a string with a lone surrogate`,
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
  if (typeof name !== "string")
    throw new InvalidArgumentError(`${arg}: expected a string queue name, got ${describe(name)}`);
  checkWellFormed(name, arg);
  const bytes = Buffer.byteLength(name, "utf8");
  if (bytes < 1 || bytes > MAX_QUEUE_NAME_BYTES)
    throw new InvalidArgumentError(
      `${arg}: expected a queue name of 1–${MAX_QUEUE_NAME_BYTES} UTF-8 bytes, got ${bytes} bytes`,
    );
  return name;
}

export function checkPriority(value: unknown, arg: string): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value > MAX_U32)
    throw new InvalidArgumentError(
      `${arg}: expected an integer in 0..${MAX_U32}, got ${describe(value)}`,
    );
  return value;
}

export function checkMaxAttempts(value: unknown, arg: string): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1 || value > MAX_U32)
    throw new InvalidArgumentError(`${arg}: expected an integer ≥ 1, got ${describe(value)}`);
  return value;
}

export function checkDuration(value: unknown, arg: string): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0)
    throw new InvalidArgumentError(
      `${arg}: expected a finite number of milliseconds ≥ 0, got ${describe(value)}`,
    );
  return value;
}

export function checkOptionalDuration(value: unknown, arg: string): number | null {
  return value === null ? null : checkDuration(value, arg);
}

export function checkPositiveDuration(value: unknown, arg: string): number {
  const ms = checkDuration(value, arg);
  if (ms === 0) throw new InvalidArgumentError(`${arg}: expected milliseconds > 0, got 0`);
  return ms;
}

/**
 * Latest storable time: the end of the JavaScript `Date` range. Times are
 * persisted as varints, exact only below 2^53; this bound stays under it.
 */
export const MAX_TIMESTAMP_MS = 8_640_000_000_000_000;

/** A `Date | number` timestamp, as integer milliseconds. */
export function checkTimestamp(value: unknown, arg: string): number {
  const ms = value instanceof Date ? value.getTime() : value;
  if (typeof ms !== "number" || !Number.isFinite(ms) || ms > MAX_TIMESTAMP_MS)
    throw new InvalidArgumentError(
      `${arg}: expected a valid Date or a finite number of epoch milliseconds up to ${MAX_TIMESTAMP_MS}, got ${describe(value)}`,
    );
  return Math.ceil(ms);
}

export function checkString(value: unknown, arg: string): string {
  if (typeof value !== "string")
    throw new InvalidArgumentError(`${arg}: expected a string, got ${describe(value)}`);
  return value;
}

export function checkHeaders(value: unknown, arg: string): Record<string, string> | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw new InvalidArgumentError(
      `${arg}: expected an object of string → string, got ${describe(value)}`,
    );
  const keys = Object.keys(value);
  if (keys.length === 0) return undefined;
  const copy: Record<string, string> = Object.create(null);
  for (const key of keys) {
    const v = (value as Record<string, unknown>)[key];
    if (typeof v !== "string")
      throw new InvalidArgumentError(
        `${arg}["${key}"]: expected a string value, got ${describe(v)}`,
      );
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
  else
    throw new InvalidArgumentError(
      `${arg}: expected a Uint8Array or a string, got ${describe(value)}`,
    );
  if (bytes.length > maxBytes)
    throw new InvalidArgumentError(
      `${arg}: expected at most ${maxBytes} bytes (maxPayloadBytes), got ${bytes.length}`,
    );
  return bytes.toString("latin1");
}

export function checkOptionsObject(value: unknown, arg: string): void {
  if (value !== undefined && (typeof value !== "object" || value === null))
    throw new InvalidArgumentError(`${arg}: expected an options object, got ${describe(value)}`);
}

/** Dead jobs are listed 100 at a time unless asked otherwise. */
export const DEFAULT_DEAD_JOBS_LIMIT = 100;

/** Validated `deadJobs` options: an optional exclusive id cursor and a page size ≥ 0. */
export function checkDeadJobsOptions(options: unknown): {
  after: string | undefined;
  limit: number;
} {
  checkOptionsObject(options, "options");
  const { after, limit = DEFAULT_DEAD_JOBS_LIMIT } = options as {
    after?: unknown;
    limit?: unknown;
  };
  if (typeof limit !== "number" || !Number.isInteger(limit) || limit < 0)
    throw new InvalidArgumentError(`options.limit: expected an integer ≥ 0, got ${String(limit)}`);
  return { after: after === undefined ? undefined : checkString(after, "options.after"), limit };
}
