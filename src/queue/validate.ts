/**
 * Argument checks of the queue's own kinds of values — queue names, payloads,
 * priorities, attempts, timestamps, headers, stored strings. The checks of
 * whole option bags (`enqueue`, `claim`, `listQueues`, `deadJobs`) are in
 * `validate-options.ts`, which builds on these. All are built on the shared
 * checks in `../validate.ts`, so every message has the same shape and names
 * the argument. Also used by the worker and the CLI (with flag names as
 * `arg`).
 */

import { types } from "node:util";
import { checkInteger, checkString, invalidArgument, invalidArgumentGot } from "../validate.js";
import {
  MAX_DEDUP_KEY_BYTES,
  MAX_HEADER_KEY_BYTES,
  MAX_HEADER_VALUE_BYTES,
  MAX_HEADERS,
  MAX_HEADERS_BYTES,
  MAX_KV_KEY_BYTES,
  MAX_KV_VALUE_BYTES,
  MAX_MESSAGE_BYTES,
  MAX_QUEUE_NAME_BYTES,
} from "./limits.js";
import type { Headers } from "./state.js";

export { MAX_MESSAGE_BYTES, MAX_QUEUE_NAME_BYTES };

const MAX_U32 = 2 ** 32 - 1;

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

/** `value`'s UTF-8 size, or an error for `arg` when it is over `max` (`what` names the limit). */
function checkUtf8Bytes(value: string, arg: string, max: number, what: string): number {
  // A UTF-16 code unit is at most 3 UTF-8 bytes: short strings need no count.
  if (value.length * 3 <= max) return Buffer.byteLength(value, "utf8");
  const bytes = Buffer.byteLength(value, "utf8");
  if (bytes > max)
    throw invalidArgumentGot(arg, `at most ${max} UTF-8 bytes (${what})`, `${bytes} bytes`);
  return bytes;
}

/**
 * A free-text message (a nack's error, a dead-letter reason) of at most
 * {@link MAX_MESSAGE_BYTES}: lone surrogates become U+FFFD now rather than at
 * the next restart.
 */
export function checkMessage(value: unknown, arg: string): string {
  const message = checkString(value, arg);
  checkUtf8Bytes(message, arg, MAX_MESSAGE_BYTES, "MAX_MESSAGE_BYTES");
  return message.replace(new RegExp(LONE_SURROGATE.source, "g"), "\uFFFD");
}

/**
 * `value` cut to at most `maxBytes` UTF-8 bytes, ending with "…" when cut;
 * never splits a character.
 */
export function truncateUtf8(value: string, maxBytes: number): string {
  if (value.length * 3 <= maxBytes) return value;
  const bytes = Buffer.from(value, "utf8");
  if (bytes.length <= maxBytes) return value;
  let end = Math.max(0, maxBytes - 3); // room for "…"
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--; // not inside a character
  return `${bytes.toString("utf8", 0, end)}…`;
}

/**
 * A dedup key: well-formed Unicode of 1 to {@link MAX_DEDUP_KEY_BYTES} UTF-8
 * bytes (an empty one is refused, as an empty `jobId` or `groupKey` is).
 */
export function checkDedupKey(value: unknown, arg: string): string {
  const key = checkString(value, arg);
  if (key.length === 0)
    throw invalidArgumentGot(
      arg,
      `a non-empty string of at most ${MAX_DEDUP_KEY_BYTES} UTF-8 bytes`,
      "an empty string",
    );
  checkUtf8Bytes(key, arg, MAX_DEDUP_KEY_BYTES, "MAX_DEDUP_KEY_BYTES");
  return checkWellFormed(key, arg);
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

/**
 * A `Date | number` timestamp: whole milliseconds since the UNIX epoch, from 0
 * (1970) to {@link MAX_TIMESTAMP_MS}. A fraction, a time before 1970 or an
 * invalid `Date` is refused: it could not be stored as given.
 */
export function checkTimestamp(value: unknown, arg: string): number {
  const ms = types.isDate(value) ? (value as Date).getTime() : value;
  if (typeof ms !== "number" || !Number.isSafeInteger(ms) || ms < 0 || ms > MAX_TIMESTAMP_MS)
    throw invalidArgument(
      arg,
      `a valid Date or an integer number of epoch milliseconds from 0 to ${MAX_TIMESTAMP_MS}`,
      value,
    );
  return ms;
}

/**
 * Headers: a plain object (or one without a prototype) of string → string,
 * at most {@link MAX_HEADERS} of them, names up to {@link MAX_HEADER_KEY_BYTES},
 * values up to {@link MAX_HEADER_VALUE_BYTES}, all together up to
 * {@link MAX_HEADERS_BYTES}. Returns a copy (or `undefined` for none). Any
 * other object (a `Map`, a `Date`, a class instance) is refused: its entries
 * are not its own properties, so a copy would silently drop them.
 */
export function checkHeaders(value: unknown, arg: string): Headers | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw invalidArgument(arg, HEADERS_EXPECTED, value);
  const proto = Object.getPrototypeOf(value) as object | null;
  // Object.prototype of any realm (its own prototype is null), or none.
  if (proto !== null && Object.getPrototypeOf(proto) !== null)
    throw invalidArgumentGot(arg, HEADERS_EXPECTED, instanceKind(proto));
  const keys = Object.keys(value);
  if (keys.length === 0) return undefined;
  if (keys.length > MAX_HEADERS)
    throw invalidArgumentGot(arg, `at most ${MAX_HEADERS} headers (MAX_HEADERS)`, `${keys.length}`);
  const copy: Record<string, string> = Object.create(null);
  let total = 0;
  for (const key of keys) {
    const v = (value as Record<string, unknown>)[key];
    const valueArg = `${arg}[${JSON.stringify(key.length > 40 ? `${key.slice(0, 40)}…` : key)}]`;
    if (typeof v !== "string") throw invalidArgument(valueArg, "a string", v);
    total += checkUtf8Bytes(key, `${arg} key`, MAX_HEADER_KEY_BYTES, "MAX_HEADER_KEY_BYTES");
    checkWellFormed(key, `${arg} key`);
    total += checkUtf8Bytes(v, valueArg, MAX_HEADER_VALUE_BYTES, "MAX_HEADER_VALUE_BYTES");
    copy[key] = checkWellFormed(v, valueArg);
  }
  if (total > MAX_HEADERS_BYTES)
    throw invalidArgumentGot(
      arg,
      `at most ${MAX_HEADERS_BYTES} UTF-8 bytes of names and values together (MAX_HEADERS_BYTES)`,
      `${total} bytes`,
    );
  return copy;
}

const HEADERS_EXPECTED = "a plain object of string → string";

/** What an object with prototype `proto` is, for a message: "an instance of Map", or "an object". */
function instanceKind(proto: object): string {
  const name = (proto as { constructor?: { name?: unknown } }).constructor?.name;
  return typeof name === "string" && name !== "" ? `an instance of ${name}` : "an object";
}

/** `String.prototype.isWellFormed` (every Node this package supports has it; the ES2022 lib it compiles against does not). */
type WellFormedCheck = string & { isWellFormed(): boolean };

/**
 * A string payload is stored as its UTF-8 encoding, where a lone surrogate
 * would become U+FFFD: the job would not get the payload it was given, so
 * such a string is refused, naming where the surrogate is. (A JSON text made
 * by `JSON.stringify` has none: it escapes lone surrogates as `\udxxx`.)
 */
function checkWellFormedPayload(value: string, arg: string): void {
  if ((value as WellFormedCheck).isWellFormed()) return;
  const at = LONE_SURROGATE.exec(value)?.index ?? 0;
  const unit = value.charCodeAt(at).toString(16).toUpperCase();
  throw invalidArgumentGot(
    arg,
    "a Uint8Array or a well-formed Unicode string (a string is stored as UTF-8)",
    `a string with a lone surrogate U+${unit} at index ${at}`,
  );
}

/**
 * A payload as bytes of its own, size-checked: a well-formed string as its UTF-8
 * encoding, a `Uint8Array` copied (the caller may reuse its buffer as soon as
 * the call returns, before the job is recorded) — or, with `copy` false, the
 * caller's own bytes, for a job recorded before the call returns. Bytes in
 * memory shared with other threads or in a resizable buffer are copied
 * either way: they could change (in length too) between this check and the
 * record, or between the record's encoding and its apply. With `copy`
 * `"owned"`, bytes the caller made itself (a fresh `new Uint8Array(bytes)`,
 * fixed-length memory of this thread nobody else holds) are kept as they
 * are, only size-checked: reading `.buffer` of a small array would move its
 * bytes off the heap, which costs more than the copy it saves.
 */
export function checkPayload(
  value: unknown,
  maxBytes: number,
  arg = "payload",
  copy: boolean | "owned" = true,
): Uint8Array {
  let bytes: Uint8Array;
  if (typeof value === "string") {
    checkWellFormedPayload(value, arg);
    bytes = Buffer.from(value, "utf8");
  } else if (types.isUint8Array(value))
    bytes = copy === "owned" ? value : copy || !inFixedBuffer(value) ? copyBytes(value) : value;
  else throw invalidArgument(arg, "a Uint8Array or a string", value);
  if (bytes.byteLength > maxBytes)
    throw invalidArgumentGot(
      arg,
      `at most ${maxBytes} bytes (maxPayloadBytes)`,
      `${bytes.byteLength} bytes`,
    );
  return bytes;
}

/**
 * A copy of `bytes` in memory of its own, of the same kind (a `Buffer` stays
 * a `Buffer`). Not `bytes.slice()`: on a `Buffer` that is a view of the
 * caller's memory, which the caller may write again before the job is
 * recorded (or between its record's encoding and its apply).
 */
export function copyBytes(bytes: Uint8Array): Uint8Array {
  return Uint8Array.prototype.slice.call(bytes);
}

/** Whether `bytes` lie in an `ArrayBuffer` of this thread whose length cannot change. */
function inFixedBuffer(bytes: Uint8Array): boolean {
  const buffer = bytes.buffer;
  return types.isArrayBuffer(buffer) && (buffer as { resizable?: boolean }).resizable !== true;
}

/** A user KV key: a well-formed string of 1 to {@link MAX_KV_KEY_BYTES} UTF-8 bytes. */
export function checkKvKey(value: unknown, arg = "key"): string {
  const key = checkString(value, arg);
  if (key.length === 0) throw invalidArgumentGot(arg, "1 to 1024 UTF-8 bytes", "an empty string");
  checkUtf8Bytes(key, arg, MAX_KV_KEY_BYTES, "MAX_KV_KEY_BYTES");
  return checkWellFormed(key, arg);
}

/** A user KV key prefix: a well-formed string of 0 to {@link MAX_KV_KEY_BYTES} UTF-8 bytes. */
export function checkKvPrefix(value: unknown, arg = "prefix"): string {
  const prefix = checkString(value, arg);
  checkUtf8Bytes(prefix, arg, MAX_KV_KEY_BYTES, "MAX_KV_KEY_BYTES");
  return checkWellFormed(prefix, arg);
}

/**
 * A user KV value as bytes of its own (a string as UTF-8, a `Uint8Array`
 * copied) of at most {@link MAX_KV_VALUE_BYTES}.
 */
export function checkKvValue(value: unknown, arg = "value"): Uint8Array {
  let bytes: Uint8Array;
  if (typeof value === "string") {
    checkWellFormedPayload(value, arg);
    bytes = Buffer.from(value, "utf8");
  } else if (types.isUint8Array(value)) bytes = copyBytes(value);
  else throw invalidArgument(arg, "a Uint8Array or a string", value);
  if (bytes.byteLength > MAX_KV_VALUE_BYTES)
    throw invalidArgumentGot(
      arg,
      `at most ${MAX_KV_VALUE_BYTES} bytes (MAX_KV_VALUE_BYTES)`,
      `${bytes.byteLength} bytes`,
    );
  return bytes;
}

/** An expected KV value: `null` (meaning absent) or a value as {@link checkKvValue} takes it. */
export function checkKvExpected(value: unknown, arg = "expected"): Uint8Array | null {
  if (value === null) return null;
  if (typeof value !== "string" && !types.isUint8Array(value))
    throw invalidArgument(arg, "null (absent), a Uint8Array or a string", value);
  return checkKvValue(value, arg);
}

/** What a caller-chosen job id may be: 1–128 of `A–Z a–z 0–9 _ -`. */
const JOB_ID = /^[A-Za-z0-9_-]{1,128}$/;

export function checkJobId(value: unknown, arg: string): string {
  if (typeof value !== "string" || !JOB_ID.test(value))
    throw invalidArgument(arg, "1 to 128 characters of A-Z, a-z, 0-9, _ and -", value);
  return value;
}

/** Longest `groupKey`, in UTF-8 bytes. */
export const MAX_GROUP_KEY_BYTES = 255;

/** A group key: 1–255 UTF-8 bytes of well-formed Unicode. */
export function checkGroupKey(value: unknown, arg: string): string {
  const key = checkString(value, arg);
  const bytes = checkUtf8Bytes(key, arg, MAX_GROUP_KEY_BYTES, "MAX_GROUP_KEY_BYTES");
  if (bytes === 0)
    throw invalidArgumentGot(arg, "a group key of 1–255 UTF-8 bytes", "an empty string");
  return checkWellFormed(key, arg);
}
