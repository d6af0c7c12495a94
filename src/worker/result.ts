/**
 * A handler's return value as the job's result: bytes and strings as they
 * are (a string as UTF-8), `undefined` as no result, anything else as JSON.
 */

import { types } from "node:util";
import { messageOf } from "../util/message.js";

/** The stored form of `value`; throws (with a message saying why) for a value JSON cannot represent. */
export function resultBytes(value: unknown): Uint8Array | string | undefined {
  if (value === undefined) return undefined;
  if (types.isUint8Array(value) || typeof value === "string") return value;
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch (error) {
    throw new Error(
      `the handler's return value cannot be stored as its result: ${messageOf(error)}`,
    );
  }
  // JSON has no form for a function or a symbol: such a return value is no result.
  return json;
}
