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

/** Registry key of the hook on `Queue.prototype` that {@link reportProgress} calls. */
export const REPORT_PROGRESS = Symbol.for("taquba.reportProgress");

const EXPECTED =
  "a JSON value (null, a boolean, a finite number, a string, or arrays and plain objects of those, without cycles)";

/** Whether `value` is a JSON value JSON.stringify keeps exactly (no undefined, NaN, functions, class instances or cycles). */
function isJson(value: unknown, ancestors: unknown[]): boolean {
  if (value === null || typeof value === "string" || typeof value === "boolean") return true;
  if (typeof value === "number") return Number.isFinite(value);
  if (typeof value !== "object") return false;
  if (ancestors.includes(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  ancestors.push(value);
  let ok: boolean;
  if (Array.isArray(value)) ok = value.every((item) => isJson(item, ancestors));
  else if (proto === Object.prototype || proto === null)
    ok = Object.values(value).every((item) => isJson(item, ancestors));
  else ok = false;
  ancestors.pop();
  return ok;
}

/**
 * `value` as JSON text, or an `InvalidArgumentError` naming `arg` when it is
 * not a JSON value, reading it throws, or its text is over
 * {@link MAX_PROGRESS_BYTES}.
 */
export function checkProgress(value: unknown, arg: string): string {
  let json: string | undefined;
  try {
    if (isJson(value, [])) json = JSON.stringify(value);
  } catch (error) {
    // Reading it threw: a getter or `Proxy` trap that throws, or nesting deeper than the stack.
    throw invalidArgumentGot(arg, EXPECTED, `a value whose reading threw: ${messageOf(error)}`);
  }
  if (json === undefined) throw invalidArgument(arg, EXPECTED, value);
  const bytes = Buffer.byteLength(json, "utf8");
  if (bytes > MAX_PROGRESS_BYTES)
    throw invalidArgumentGot(
      arg,
      `a JSON value of at most ${MAX_PROGRESS_BYTES} bytes as JSON text`,
      `${bytes} bytes`,
    );
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
