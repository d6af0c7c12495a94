/** Thrown values as text. */

import { types } from "node:util";

/**
 * A thrown value as text, for error messages and logs. Never throws: code may
 * throw anything, including a value `String` refuses (an object without a
 * prototype, a throwing `toString` or `message` getter), and reporting it
 * must not become a second failure.
 */
export function messageOf(error: unknown): string {
  try {
    if (error instanceof Error || types.isNativeError(error))
      return String(error.message || error.name);
    return String(error);
  } catch {
    try {
      return `${Object.prototype.toString.call(error)} (thrown value cannot be turned into a string)`;
    } catch {
      return "[unprintable thrown value]";
    }
  }
}
