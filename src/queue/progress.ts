/**
 * Progress of a running job (`ctx.progress(value)` under `runWorker`): the
 * check that a value is JSON (and small enough), keeping the latest value
 * with the claim's lease in memory (so `getJob` shows it while the job runs),
 * the `"progress"` event, and the hook the worker calls. The settlement of
 * the claim writes the latest value into its record (`settle.ts`), so it is
 * kept with a retried, dead or kept done job and survives a restart.
 */
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

/**
 * What {@link jsonBytes} found: a lower bound of the size of `value` as JSON
 * text, or why `value` is refused (`"not-json"`, `"too-big"`, `"too-deep"`).
 */
type Measure = number | "not-json" | "too-big" | "too-deep";

/** How many ancestors {@link Walk.shallow} holds. */
const SHALLOW = 32;

/** The state of one {@link jsonBytes} walk. */
interface Walk {
  /**
   * The arrays and objects the walk is inside of, to find cycles: the
   * outermost {@link SHALLOW} in an array (cheaper than a `Set` for the
   * usual small value), the deeper ones in a `Set` made when first needed.
   */
  readonly shallow: object[];
  deep: Set<object> | undefined;
  /**
   * Whether the lower bound holds: not once a `toJSON` method has been met,
   * as JSON.stringify writes what it returns instead of the value.
   */
  bounded: boolean;
}

/**
 * A lower bound of the size in UTF-8 bytes of `value` as JSON text, if it is a
 * JSON value JSON.stringify keeps exactly (no undefined, NaN, functions, class
 * instances or cycles): a byte for each number, boolean and `null`, a byte for
 * each UTF-16 unit of a string and its two quotes, the brackets, commas,
 * quotes and colons of arrays and objects. Cheap, as it is paid by every
 * value: the exact size is measured on the text itself. Once the bound is over
 * `budget` the walk stops with `"too-big"`, so a huge array or string costs no
 * more than one of `budget` bytes (an object with millions of keys still pays
 * for listing them: `Object.keys` cannot be cut short). A `toJSON` method (own or inherited) makes the walk
 * give up the bound for the rest of the value (see {@link Walk.bounded}) but
 * still check it, so such a value is decided on its text alone. `depth` counts
 * the arrays and objects around `value`: one more than
 * {@link MAX_PROGRESS_DEPTH} is `"too-deep"`.
 */
function jsonBytes(value: unknown, budget: number, walk: Walk, depth: number): Measure {
  if (value === null) return 1;
  switch (typeof value) {
    case "boolean":
      return 1;
    case "number":
      return Number.isFinite(value) ? 1 : "not-json";
    case "string":
      return value.length + 2 > budget && walk.bounded ? "too-big" : value.length + 2;
    case "object":
      break;
    default:
      return "not-json";
  }
  if (walk.shallow.includes(value) || walk.deep?.has(value)) return "not-json";
  if (depth >= MAX_PROGRESS_DEPTH) return "too-deep";
  const isArray = Array.isArray(value);
  if (!isArray) {
    const proto = Object.getPrototypeOf(value) as unknown;
    if (proto !== Object.prototype && proto !== null) return "not-json";
  }
  if (typeof (value as { toJSON?: unknown }).toJSON === "function") walk.bounded = false;
  if (depth < SHALLOW) walk.shallow.push(value);
  else {
    walk.deep ??= new Set();
    walk.deep.add(value);
  }
  const measure = isArray
    ? arrayBytes(value as unknown[], budget, walk, depth + 1)
    : objectBytes(value as Record<string, unknown>, budget, walk, depth + 1);
  if (depth < SHALLOW) walk.shallow.pop();
  else walk.deep!.delete(value);
  return measure;
}

/** {@link jsonBytes} of an array: `[`, the items with commas between, `]`; a hole is written as `null`. */
function arrayBytes(items: unknown[], budget: number, walk: Walk, depth: number): Measure {
  const n = items.length;
  let bytes = 2 + Math.max(n - 1, 0);
  // Brackets, commas and a byte per item: known too big without reading an item.
  if (bytes + n > budget && walk.bounded) return "too-big";
  for (let i = 0; i < n; i++) {
    const item = items[i];
    const size =
      item === undefined && !(i in items) ? 1 : jsonBytes(item, budget - bytes, walk, depth);
    if (typeof size !== "number") return size;
    bytes += size;
    if (bytes > budget && walk.bounded) return "too-big";
  }
  return bytes;
}

/** {@link jsonBytes} of a plain object: `{`, `"key":value` for each own enumerable key with commas between, `}`. */
function objectBytes(
  object: Record<string, unknown>,
  budget: number,
  walk: Walk,
  depth: number,
): Measure {
  // A member counts only once its value is measured: one whose value JSON leaves out (a
  // `toJSON` returning undefined) is not written at all, key and comma included.
  let bytes = 1; // `{`
  for (const key of Object.keys(object)) {
    const size = jsonBytes(object[key], budget - bytes - key.length - 4, walk, depth);
    if (typeof size !== "number") return size;
    bytes += key.length + 4 + size; // `"key":`, the value, and `,` or `}`
    if (bytes > budget && walk.bounded) return "too-big";
  }
  return bytes === 1 ? 2 : bytes;
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
 * read only until its text is known to be over it (but for one with a
 * `toJSON` method, which is written out and measured).
 */
export function checkProgress(value: unknown, arg: string): string {
  let measure: Measure;
  let json: string | undefined;
  try {
    measure = jsonBytes(
      value,
      MAX_PROGRESS_BYTES,
      { shallow: [], deep: undefined, bounded: true },
      0,
    );
    if (typeof measure === "number") json = JSON.stringify(value);
  } catch (error) {
    // Reading it threw: a getter or `Proxy` trap that throws.
    throw invalidArgumentGot(arg, EXPECTED, `a value whose reading threw: ${messageOf(error)}`);
  }
  if (measure === "too-big") throw tooBig(arg, `more than ${MAX_PROGRESS_BYTES} bytes`);
  if (measure === "too-deep")
    throw invalidArgumentGot(
      arg,
      `a JSON value nested at most ${MAX_PROGRESS_DEPTH} levels deep`,
      `a value nested too deep (more than ${MAX_PROGRESS_DEPTH} levels of arrays and objects)`,
    );
  if (json === undefined) throw invalidArgument(arg, EXPECTED, value);
  // The exact size, of the text itself (a getter may answer differently the second time).
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
