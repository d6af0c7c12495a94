/**
 * Failures inside a store call that are bugs or a broken runtime, not an
 * outage: `ReferenceError: TextEncoder is not defined`, `TypeError: x is not
 * a function`, `RangeError: Maximum call stack size exceeded`. Retrying
 * cannot heal them, so they fail at once, as permanent `StorageError`s that
 * say so, instead of being retried until the retry budget runs out. The
 * adapters (their error mapping), the probe and the log's retries all read
 * them with {@link isProgrammingError}.
 */
import { StorageError } from "../errors.js";
import { messageOf } from "../util/message.js";

/** What a message reporting one of these failures ends with. */
export const NOT_AN_OUTAGE =
  "This is not a store outage but a bug or an environment problem in the store's code or its " +
  "runtime, so it is not retried: fix the store or the runtime, then try again.";

/** The built-in error classes a bug or a broken runtime throws. */
const PROGRAMMING_NAMES: ReadonlySet<string> = new Set([
  "ReferenceError",
  "SyntaxError",
  "EvalError",
  "RangeError",
  "URIError",
  "TypeError",
]);

/** How deep a `cause` chain is followed (a chain may loop). */
const MAX_CAUSES = 8;

/**
 * Whether `error`, thrown inside a store call, is a bug or a broken runtime
 * rather than a failure of the store:
 *
 * - `ReferenceError`, `EvalError`, `RangeError`, `URIError`: always. No
 *   network or service failure is reported as one.
 * - `SyntaxError`: unless it comes from `JSON.parse` (its message names
 *   JSON): a store that parses an answer meets a proxy's error page or a cut
 *   body there during an outage, which heals.
 * - `TypeError`: unless it looks like a network failure. `fetch` reports
 *   every one as a `TypeError` (`fetch failed`, `terminated`) with the socket
 *   or DNS error as `cause`, so one with a `cause` that is not itself a bug,
 *   or with a system or undici error `code` (`ECONNRESET`, `UND_ERR_SOCKET`),
 *   is a network failure. Node's own argument checks carry `ERR_…` codes:
 *   those are bugs.
 *
 * An error that carries an HTTP answer (an SDK's `$metadata`, `$response`,
 * a status) is a service's answer the client failed to read, never a bug of
 * this kind: its adapter's verdict stands. Judged by name, not `instanceof`,
 * so errors of another realm (a worker, a `vm` context) are read alike.
 */
export function isProgrammingError(error: unknown): boolean {
  return programming(error, 0);
}

function programming(error: unknown, depth: number): boolean {
  if (typeof error !== "object" || error === null || depth > MAX_CAUSES) return false;
  const name = read(error, "name");
  if (typeof name !== "string" || !PROGRAMMING_NAMES.has(name)) return false;
  if (carriesAnswer(error)) return false;
  if (name === "SyntaxError") return !/\bJSON\b/.test(messageOf(error));
  if (name !== "TypeError") return true;
  if (isNetworkCode(read(error, "code"))) return false;
  const cause = read(error, "cause");
  return cause === undefined || cause === null || programming(cause, depth + 1);
}

/** Codes of system errors (`ECONNRESET`, `EAI_AGAIN`) and undici's (`UND_ERR_SOCKET`). */
function isNetworkCode(code: unknown): boolean {
  if (typeof code !== "string") return false;
  return code.startsWith("UND_ERR_") || (/^E[A-Z0-9_]+$/.test(code) && !code.startsWith("ERR_"));
}

/** Whether `error` carries an HTTP answer, as the cloud SDKs' errors do (GCS's in a numeric `code`). */
function carriesAnswer(error: object): boolean {
  if (read(error, "$metadata") !== undefined || read(error, "$response") !== undefined) return true;
  return ["statusCode", "status", "code"].some((key) => typeof read(error, key) === "number");
}

/** A property of a thrown value; `undefined` where reading it throws (a getter may). */
function read(value: object, key: string): unknown {
  try {
    return (value as Record<string, unknown>)[key];
  } catch {
    return undefined;
  }
}

/** `TypeError: x is not a function`: a thrown error's class name and message. */
export function describeThrown(error: unknown): string {
  const message = messageOf(error);
  const name = typeof error === "object" && error !== null ? read(error, "name") : undefined;
  // Of another realm, `messageOf` has it as `String(error)`: "TypeError: …" already.
  return typeof name === "string" && name !== "" && !message.startsWith(name)
    ? `${name}: ${message}`
    : message;
}

/**
 * The permanent {@link StorageError} a store call that failed with `error`, a
 * {@link isProgrammingError programming error}, becomes: `what` (the call)
 * failed, naming the error, and why it is not retried. `error` is its `cause`.
 */
export function programmingFailure(what: string, error: unknown): StorageError {
  return new StorageError(`${what} failed with ${describeThrown(error)}. ${NOT_AN_OUTAGE}`, {
    cause: error,
    permanent: true,
  });
}
