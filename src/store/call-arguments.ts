/**
 * Checks of the arguments of store calls that every adapter of this package
 * makes alike (a body to put, the prefix, cursor and limit of a listing), so bad
 * input is refused with the same `InvalidArgumentError` whichever store is
 * used. Key rules differ by store and live with them (`key-rules.ts`,
 * `cloud/keys.ts`).
 */
import { types } from "node:util";
import { invalidArgument, invalidArgumentGot } from "../validate.js";

/**
 * A body whose buffer was transferred (or otherwise detached) reads as empty
 * and cannot be copied: a caller's mistake, which no retry mends. (Checked by
 * slicing the buffer, which throws when detached: Node 20 has no
 * `ArrayBuffer.prototype.detached`.)
 */
function isDetached(body: Uint8Array): boolean {
  if (body.byteLength !== 0) return false;
  try {
    body.buffer.slice(0, 0);
    return false;
  } catch {
    return true;
  }
}

/**
 * Throws {@link InvalidArgumentError} unless `body`, to put at `key`, is a
 * Uint8Array with its buffer attached. Checked by its internal type, not
 * `instanceof`: one made in another realm (a `vm` context, a test
 * environment whose Buffer is not its Uint8Array) is a Uint8Array all the same.
 */
export function checkPutBody(key: string, body: unknown): void {
  if (!types.isUint8Array(body))
    throw invalidArgument("body", "a Uint8Array", body, `put ${JSON.stringify(key)}`);
  if (isDetached(body))
    throw invalidArgumentGot(
      "body",
      "a Uint8Array with an attached buffer",
      "one whose buffer was transferred or detached",
      `put ${JSON.stringify(key)}`,
    );
}

/** Throws {@link InvalidArgumentError} unless the `prefix` of a listing is a string, and its `startAfter` absent or one. */
export function checkListPrefix(prefix: unknown, startAfter: unknown): void {
  if (typeof prefix !== "string") throw invalidArgument("prefix", "a string", prefix, "list");
  if (startAfter !== undefined && typeof startAfter !== "string")
    throw invalidArgument("options.startAfter", "a string", startAfter, "list");
}

/**
 * The page size a listing asked for: `fallback` when `limit` is absent, else
 * a number ≥ 1 (a fraction is rounded down; `Infinity` means "all the store
 * gives"), else {@link InvalidArgumentError}.
 */
export function checkListLimit(limit: unknown, fallback: number): number {
  const requested = limit ?? fallback;
  if (typeof requested !== "number" || !(requested >= 1))
    throw invalidArgument("options.limit", "a number ≥ 1", requested, "list");
  return Math.floor(requested);
}
