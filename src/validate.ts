/**
 * Argument checking shared by every layer (queue, log options, worker, CLI):
 * the one message style and the generic checks. Every message names the
 * argument, says what was expected and what was got:
 *
 *     Expected `options.leaseMs` to be a positive integer number of milliseconds, got -5
 *
 * Checks throw {@link InvalidArgumentError} and return the accepted value, so
 * callers validate and read in one expression. Queue-specific checks (queue
 * names, payloads, headers) live in `queue/validate.ts` and build on these.
 */
import { types } from "node:util";
import type { Clock } from "./clock.js";
import { InvalidArgumentError } from "./errors.js";
import { guardLogger, type Logger } from "./logger.js";
import type { ObjectStore } from "./store/types.js";
import { isAbortSignal } from "./util/abort.js";

/** A short, safe description of a value for an error message. */
export function describeValue(value: unknown): string {
  if (typeof value === "string")
    return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === "number" || typeof value === "boolean" || value == null)
    return String(value);
  if (typeof value === "bigint") return `${value}n`;
  if (types.isDate(value)) return `Date(${(value as Date).getTime()})`;
  if (Array.isArray(value)) return "an array";
  if (typeof value === "function") return "a function";
  if (typeof value === "symbol") return "a symbol";
  return "an object";
}

/**
 * The message for a bad argument; `got` is already described (e.g. "300
 * bytes"). `of` names what the argument belongs to, where the argument's
 * name alone would not say (a store's option, an object key's request):
 *
 *     Expected `options.bucket` of S3Store to be a non-empty string, got ""
 */
export function expectationMessage(
  arg: string,
  expected: string,
  got: string,
  of?: string,
): string {
  return `Expected \`${arg}\`${of === undefined ? "" : ` of ${of}`} to be ${expected}, got ${got}`;
}

/** An {@link InvalidArgumentError} for `arg` (of `of`, see {@link expectationMessage}), describing the bad `value`. */
export function invalidArgument(
  arg: string,
  expected: string,
  value: unknown,
  of?: string,
): InvalidArgumentError {
  return new InvalidArgumentError(expectationMessage(arg, expected, describeValue(value), of));
}

/** Like {@link invalidArgument}, with `got` worded by the caller. */
export function invalidArgumentGot(
  arg: string,
  expected: string,
  got: string,
  of?: string,
): InvalidArgumentError {
  return new InvalidArgumentError(expectationMessage(arg, expected, got, of));
}

export function checkString(value: unknown, arg: string): string {
  if (typeof value !== "string") throw invalidArgument(arg, "a string", value);
  return value;
}

/**
 * A whole number of milliseconds: a safe integer ≥ 0 (> 0 when `positive`).
 * Durations are stored and compared as integers; a fraction, a negative
 * number, NaN or anything past `Number.MAX_SAFE_INTEGER` could not be kept as
 * given, so it is refused rather than rounded.
 */
function checkMilliseconds(
  value: unknown,
  arg: string,
  positive: boolean,
  expected: string,
): number {
  if (
    typeof value !== "number" ||
    !Number.isSafeInteger(value) ||
    value < 0 ||
    (positive && value === 0)
  )
    throw invalidArgument(arg, expected, value);
  return value;
}

/** A duration: a whole number of milliseconds ≥ 0, at most `Number.MAX_SAFE_INTEGER`. */
export function checkDuration(value: unknown, arg: string): number {
  return checkMilliseconds(value, arg, false, "a non-negative integer number of milliseconds");
}

/** A duration > 0: a whole number of milliseconds, at most `Number.MAX_SAFE_INTEGER`. */
export function checkPositiveDuration(value: unknown, arg: string): number {
  return checkMilliseconds(value, arg, true, "a positive integer number of milliseconds");
}

/** `null` (meaning "never" or "forever", as documented by the option) or a duration. */
export function checkOptionalDuration(value: unknown, arg: string): number | null {
  if (value === null) return null;
  return checkMilliseconds(
    value,
    arg,
    false,
    "null or a non-negative integer number of milliseconds",
  );
}

/** A finite number ≥ 0 (or > 0 when `positive`); `expected` words it for the message. */
function checkFinite(value: unknown, arg: string, positive: boolean, expected: string): number {
  if (
    typeof value !== "number" ||
    !Number.isFinite(value) ||
    value < 0 ||
    (positive && value === 0)
  )
    throw invalidArgument(arg, expected, value);
  return value;
}

/** A finite number of bytes > 0 (a threshold; fractions allowed). */
export function checkPositiveBytes(value: unknown, arg: string): number {
  return checkFinite(value, arg, true, "a positive finite number of bytes");
}

/** An integer in `min..max` (inclusive; `max` defaults to the largest safe integer). */
export function checkInteger(
  value: unknown,
  arg: string,
  min: number,
  max: number = Number.MAX_SAFE_INTEGER,
): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max)
    throw invalidArgument(arg, integerRange(min, max), value);
  return value;
}

/** Words for an integer range, as {@link checkInteger} uses them in messages. */
export function integerRange(min: number, max: number = Number.MAX_SAFE_INTEGER): string {
  if (max >= Number.MAX_SAFE_INTEGER) {
    if (min === Number.NEGATIVE_INFINITY) return "an integer";
    return min === 1 ? "a positive integer" : `an integer ≥ ${min}`;
  }
  return `an integer from ${min} to ${max}`;
}

/** One of `allowed` (compared with `===`); `of` says whose argument it is. */
export function checkOneOf<const T extends readonly unknown[]>(
  value: unknown,
  arg: string,
  allowed: T,
  of?: string,
): T[number] {
  if (!allowed.includes(value))
    throw invalidArgument(
      arg,
      `one of ${allowed.map((a) => describeValue(a)).join(", ")}`,
      value,
      of,
    );
  return value as T[number];
}

/**
 * `undefined` or an object (an options bag), else {@link InvalidArgumentError}.
 * With `keys`, also no own key but those, naming the key each unknown one
 * likely meant:
 *
 *     Expected `options` to have only the keys olderThanMs, onProgress; got `olderThan` (did you mean `olderThanMs`?)
 *
 * `keys` is for options that choose which jobs or entries a call touches or
 * lists (the filters of bulk removals and requeues, listing cursors and
 * limits), where a misspelt key, ignored, would silently widen a destructive
 * call to every job of the status, or page from the start. Other options
 * objects (`Queue.open`, `runWorker`, `enqueue`, ...) accept keys they do not
 * know, so options written for a newer version of the package still work
 * with an older one, and warn of them (see `OptionWarnings`).
 */
export function checkOptionsObject(value: unknown, arg: string, keys?: readonly string[]): void {
  if (value === undefined) return;
  if (typeof value !== "object" || value === null)
    throw invalidArgument(arg, "an options object", value);
  if (keys === undefined) return;
  const unknown = unknownKeys(value, keys);
  if (unknown !== undefined)
    throw new InvalidArgumentError(
      `Expected \`${arg}\` to have only the keys ${keys.join(", ")}; got ${describeKeys(unknown, keys)}`,
    );
}

/**
 * The own keys of `value` that are not in `keys`, or `undefined` when there
 * are none. A loop, not `Object.keys`: it runs for every job of an enqueueMany.
 */
export function unknownKeys(value: object, keys: readonly string[]): string[] | undefined {
  let unknown: string[] | undefined;
  for (const key in value) {
    if (keys.includes(key) || !Object.hasOwn(value, key)) continue;
    if (unknown === undefined) unknown = [key];
    else unknown.push(key);
  }
  return unknown;
}

/** `` `delay` (did you mean `delayMs`?), `quue` `` — unknown keys, each with its likely meaning. */
export function describeKeys(unknown: readonly string[], keys: readonly string[]): string {
  return unknown
    .map((key) => {
      const shown = `\`${key.length > 40 ? `${key.slice(0, 40)}…` : key}\``;
      const meant = likelyKey(key, keys);
      return meant === undefined ? shown : `${shown} (did you mean \`${meant}\`?)`;
    })
    .join(", ");
}

/**
 * The known key an unknown one most likely stands for: the same letters in
 * another case, the one known key it begins (`delay` → `delayMs`), or one
 * at most two edits away (one for keys under five letters); `undefined`
 * when none is close.
 */
export function likelyKey(key: string, keys: readonly string[]): string | undefined {
  if (key.length > 64) return undefined;
  const lower = key.toLowerCase();
  const sameLetters = keys.find((k) => k.toLowerCase() === lower);
  if (sameLetters !== undefined) return sameLetters;
  if (lower.length >= 3) {
    // `delay` for `delayMs`
    const extended = keys.filter((k) => k.toLowerCase().startsWith(lower));
    if (extended.length === 1) return extended[0];
  }
  let best: string | undefined;
  let bestDistance = lower.length < 5 ? 2 : 3; // short keys: at most one edit
  for (const k of keys) {
    const d = editDistance(lower, k.toLowerCase(), bestDistance);
    if (d < bestDistance) {
      best = k;
      bestDistance = d;
    }
  }
  return best;
}

/** Levenshtein distance of `a` and `b`, or `limit` when it is at least `limit`. */
function editDistance(a: string, b: string, limit: number): number {
  if (Math.abs(a.length - b.length) >= limit) return limit;
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    let rowMin = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      const d = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost);
      current.push(d);
      if (d < rowMin) rowMin = d;
    }
    if (rowMin >= limit) return limit;
    previous = current;
  }
  return Math.min(previous[b.length]!, limit);
}

export function checkFunction<T>(value: T, arg: string, expected = "a function", of?: string): T {
  if (typeof value !== "function") throw invalidArgument(arg, expected, value, of);
  return value;
}

export function checkBoolean(value: unknown, arg: string): boolean {
  if (typeof value !== "boolean") throw invalidArgument(arg, "a boolean", value);
  return value;
}

/** `undefined` or an `AbortSignal` (of any realm). */
export function checkOptionalSignal(value: unknown, arg: string): AbortSignal | undefined {
  if (value !== undefined && !isAbortSignal(value))
    throw invalidArgument(arg, "an AbortSignal", value);
  return value;
}

/**
 * Whether `value` is an object whose `methods` are all functions (`optional`
 * ones may be absent). Checks by shape rather than `instanceof`: an
 * application that loads both the ESM and the CommonJS build has two copies
 * of each class, and an object of one works with the functions of the other.
 */
export function hasMethods(
  value: unknown,
  methods: readonly string[],
  optional: readonly string[] = [],
): boolean {
  // A function with methods fits an interface too (some loggers are callable).
  if ((typeof value !== "object" && typeof value !== "function") || value === null) return false;
  const record = value as Record<string, unknown>;
  return (
    methods.every((name) => typeof record[name] === "function") &&
    optional.every((name) => record[name] === undefined || typeof record[name] === "function")
  );
}

/**
 * An {@link ObjectStore}: checked before the store is first used, so a
 * missing or wrong store is an `InvalidArgumentError` naming the argument
 * instead of a `TypeError` from deep inside the first request.
 */
export function checkObjectStore(value: unknown, arg: string, of?: string): ObjectStore {
  if (!hasMethods(value, ["get", "put", "delete", "list", "describe"], ["head"]))
    throw invalidArgument(
      arg,
      "an ObjectStore (an object with get, put, delete, list and describe methods)",
      value,
      of,
    );
  return value as ObjectStore;
}

/** A {@link Clock}: `now()`, and `monotonicNow()` when present. */
export function checkClock(value: unknown, arg: string): Clock {
  if (!hasMethods(value, ["now"], ["monotonicNow"]))
    throw invalidArgument(arg, "a Clock (an object with a now() method)", value);
  return value as Clock;
}

/**
 * A {@link Logger}: `warn` and `error`, and `debug`/`info` when present;
 * returned guarded (see {@link guardLogger}), as it is called from anywhere.
 */
export function checkLogger(value: unknown, arg: string): Logger {
  if (!hasMethods(value, ["warn", "error"], ["debug", "info"]))
    throw invalidArgument(arg, "a Logger (an object with warn and error methods)", value);
  return guardLogger(value as Logger);
}
