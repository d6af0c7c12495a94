/**
 * Progress of a running job (`ctx.progress(value)` under `runWorker`): the
 * check that a value is JSON (and small enough), keeping the latest value
 * with the claim's lease in memory (so `getJob` shows it while the job runs),
 * the `"progress"` event, and the hook the worker calls. The settlement of
 * the claim writes the latest value into its record (`settle.ts`), so it is
 * kept with a retried, dead or kept done job and survives a restart.
 */
import { InvalidArgumentError } from "../errors.js";
import { messageOf } from "../util/message.js";
import { invalidArgument, invalidArgumentGot } from "../validate.js";
import type { QueueCore } from "./core.js";
import { Lease } from "./leases.js";
import { CLAIM_TOKEN, type Claim, type JsonValue } from "./types.js";

/** Largest progress value, as JSON text in UTF-8 bytes. */
export const MAX_PROGRESS_BYTES = 65_536;

/**
 * Deepest nesting of arrays and objects in a progress value (a value that is
 * not an array or object is at depth 0, `[1]` at depth 1). A reader gets the
 * value back parsed; one much deeper could not be copied with
 * `structuredClone` or written back with `JSON.stringify` (they recurse, and
 * run out of stack some thousands of levels down), so it is refused.
 */
export const MAX_PROGRESS_DEPTH = 1_000;

/** Registry key of the hook on `Queue.prototype` that {@link reportProgress} calls. */
export const REPORT_PROGRESS = Symbol.for("taquba.reportProgress");

const EXPECTED =
  "a JSON value (null, a boolean, a finite number, a string, or arrays and plain objects of those, without cycles)";

/** What {@link jsonBytes} found: the exact size of `value` as JSON text, or why there is none. */
type Measure = number | "not-json" | "too-big" | "too-deep";

/**
 * The size in UTF-8 bytes of `value` as JSON text, if it is a JSON value
 * JSON.stringify keeps exactly (no undefined, NaN, functions, class instances
 * or cycles) and its text fits in `budget` bytes. Stops as soon as the size is
 * known to be over `budget` (every element of an array or object adds at least
 * a byte, every UTF-16 unit of a string at least a byte), so a huge value costs
 * no more than a value of `budget` bytes: `"too-big"`. `depth` counts the
 * arrays and objects around `value`: one more than {@link MAX_PROGRESS_DEPTH}
 * is `"too-deep"`.
 */
function jsonBytes(value: unknown, budget: number, ancestors: Set<object>, depth: number): Measure {
  if (value === null) return 4;
  switch (typeof value) {
    case "boolean":
      return value ? 4 : 5;
    case "number":
      return Number.isFinite(value) ? String(value).length : "not-json";
    case "string":
      // Two quotes and at least a byte for each UTF-16 unit, before paying for the escaping.
      if (value.length + 2 > budget) return "too-big";
      return Buffer.byteLength(JSON.stringify(value), "utf8");
    case "object":
      break;
    default:
      return "not-json";
  }
  if (ancestors.has(value)) return "not-json";
  if (depth >= MAX_PROGRESS_DEPTH) return "too-deep";
  const proto = Object.getPrototypeOf(value) as unknown;
  const isArray = Array.isArray(value);
  if (!isArray && proto !== Object.prototype && proto !== null) return "not-json";
  ancestors.add(value);
  const measure = isArray
    ? arrayBytes(value as unknown[], budget, ancestors, depth + 1)
    : objectBytes(value as Record<string, unknown>, budget, ancestors, depth + 1);
  ancestors.delete(value);
  return measure;
}

/** {@link jsonBytes} of an array: `[`, the items with commas between, `]`; a hole is written as `null`. */
function arrayBytes(
  items: unknown[],
  budget: number,
  ancestors: Set<object>,
  depth: number,
): Measure {
  const n = items.length;
  // Brackets, a byte at least per item, the commas: known too big without reading an item.
  if (2 + n + Math.max(n - 1, 0) > budget) return "too-big";
  let bytes = 2 + Math.max(n - 1, 0);
  for (let i = 0; i < n; i++) {
    const item = items[i];
    const size =
      item === undefined && !(i in items) ? 4 : jsonBytes(item, budget - bytes, ancestors, depth);
    if (typeof size !== "number") return size;
    bytes += size;
    if (bytes > budget) return "too-big";
  }
  return bytes;
}

/** {@link jsonBytes} of a plain object: `{`, `"key":value` for each own enumerable key with commas between, `}`. */
function objectBytes(
  object: Record<string, unknown>,
  budget: number,
  ancestors: Set<object>,
  depth: number,
): Measure {
  const keys = Object.keys(object);
  const n = keys.length;
  // Braces, `"":` and a byte of value at least per key, the commas.
  if (2 + 4 * n + Math.max(n - 1, 0) > budget) return "too-big";
  let bytes = 2 + Math.max(n - 1, 0);
  for (const key of keys) {
    // The key's quotes and colon, a byte at least per UTF-16 unit, a byte of value.
    if (key.length + 4 > budget - bytes) return "too-big";
    bytes += 1 + Buffer.byteLength(JSON.stringify(key), "utf8");
    const size = jsonBytes(object[key], budget - bytes, ancestors, depth);
    if (typeof size !== "number") return size;
    bytes += size;
    if (bytes > budget) return "too-big";
  }
  return bytes;
}

/** The error for a value over {@link MAX_PROGRESS_BYTES}; `got` says by how much when known. */
function tooBig(arg: string, got: string): Error {
  return invalidArgumentGot(
    arg,
    `a JSON value of at most ${MAX_PROGRESS_BYTES} bytes as JSON text`,
    got,
  );
}

/**
 * `value` as JSON text, or an `InvalidArgumentError` naming `arg` when it is
 * not a JSON value, reading it throws, it is nested more than
 * {@link MAX_PROGRESS_DEPTH} levels deep, or its text is over
 * {@link MAX_PROGRESS_BYTES}. The work is bounded by the limit: a value is
 * read only until its text is known to be over it.
 */
export function checkProgress(value: unknown, arg: string): string {
  let json: string | undefined;
  try {
    const measure = jsonBytes(value, MAX_PROGRESS_BYTES, new Set(), 0);
    if (measure === "too-big") throw tooBig(arg, `more than ${MAX_PROGRESS_BYTES} bytes`);
    if (measure === "too-deep")
      throw invalidArgumentGot(
        arg,
        `a JSON value nested at most ${MAX_PROGRESS_DEPTH} levels deep`,
        `a value nested too deep (more than ${MAX_PROGRESS_DEPTH} levels of arrays and objects)`,
      );
    if (measure !== "not-json") json = JSON.stringify(value);
  } catch (error) {
    if (error instanceof InvalidArgumentError) throw error;
    // Reading it threw: a getter or `Proxy` trap that throws.
    throw invalidArgumentGot(arg, EXPECTED, `a value whose reading threw: ${messageOf(error)}`);
  }
  if (json === undefined) throw invalidArgument(arg, EXPECTED, value);
  // A getter may answer differently the second time: the text itself is what is kept.
  const bytes = Buffer.byteLength(json, "utf8");
  if (bytes > MAX_PROGRESS_BYTES) throw tooBig(arg, `${bytes} bytes`);
  return json;
}

/**
 * Records `value` as the progress of `claim`'s job and emits `"progress"`.
 * Checks `value` first (`InvalidArgumentError`); does nothing more for a
 * claim that is no longer live (settled, reaped, or the queue closed).
 */
export function recordProgress(core: QueueCore, claim: Claim, value: unknown): void {
  const json = checkProgress(value, "value");
  const lease = (claim as Partial<Claim> | null | undefined)?.[CLAIM_TOKEN];
  if (core.closed || !(lease instanceof Lease) || !core.leases.isLive(lease)) return;
  lease.progress = json;
  core.events.progress(
    claim.id,
    lease.queue,
    core.now(),
    JSON.parse(json) as JsonValue,
    json.length,
  );
}

/** `ctx.progress(value)`: records progress of `claim` on `queue` (see {@link recordProgress}). */
export function reportProgress(queue: object, claim: Claim, value: unknown): void {
  const hook = (queue as Record<symbol, (c: Claim, v: unknown) => void>)[REPORT_PROGRESS]!;
  hook.call(queue, claim, value);
}
