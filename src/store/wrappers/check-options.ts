/**
 * Checks of the arguments of the exported store wrappers, in the one message
 * style of `validate.ts`: "Expected `options.random` of FaultStore to be a
 * function, got 5". A wrapper checks what it is given when it is given it,
 * so a mistake in a test's setup fails there, not as a puzzling request later.
 * The checks `validate.ts` already has (`checkObjectStore`, `checkFunction`,
 * `checkOneOf`) are used from there with their `of`; these are the rest.
 */
import { describeValue, invalidArgument, invalidArgumentGot } from "../../validate.js";
import type { StoreOp } from "./ops.js";

const OPS: readonly StoreOp[] = ["get", "put", "delete", "list", "head"];
const OPS_WORDED = `one of ${OPS.map((op) => `"${op}"`).join(", ")}`;

/** An options object (`arg` of `of`); `undefined` only when `optional`. */
export function checkOptionsBag(value: unknown, arg: string, of: string, optional: boolean): void {
  if (value === undefined && optional) return;
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw invalidArgument(arg, "an options object", value, of);
}

/** `undefined` or a string (`arg` of `of`). */
export function checkOptionalString(value: unknown, arg: string, of: string): void {
  if (value !== undefined && typeof value !== "string")
    throw invalidArgument(arg, "a string", value, of);
}

/** `undefined`, a request kind, or (when `single` is false, or not given) an array of them. */
export function checkOps(value: unknown, arg: string, of: string, single = true): void {
  if (value === undefined) return;
  if (single && OPS.includes(value as StoreOp)) return;
  const expected = single ? `${OPS_WORDED}, or an array of them` : `an array of ${OPS_WORDED}`;
  if (!Array.isArray(value)) throw invalidArgument(arg, expected, value, of);
  const wrong = value.findIndex((op) => !OPS.includes(op));
  if (wrong >= 0)
    throw invalidArgumentGot(arg, expected, `an array with ${describeValue(value[wrong])}`, of);
}
