/**
 * Failures inside a store call that are bugs or a broken runtime, not an
 * outage: `ReferenceError: TextEncoder is not defined`, `TypeError: x is not
 * a function`. Retrying cannot heal them, so they fail at once, as permanent
 * `StorageError`s that say so, instead of being retried until the retry
 * budget runs out. Applied only where the code that threw is the store's own
 * (a custom store's, read by the log's retries and the probe) or ours (the
 * FileStore's): a cloud SDK can throw the same classes on a garbled answer
 * that heals, so the built-in cloud stores keep their own classification.
 */
import { StorageError } from "../errors.js";
import { messageOf } from "../util/message.js";
import { redactSecrets, redactUrl } from "../util/redact.js";

/** What a store of the user's own should do about one of these failures. */
export const FIX_THE_STORE =
  "fix the store's code, or its runtime if that is what is wrong (a missing global such as " +
  "TextEncoder, say), then try again.";

/** What to do about one of these failures inside the FileStore. */
export const FIX_FILESTORE =
  "report it as a bug in taquba's FileStore, unless the runtime is what is wrong (a missing " +
  "global such as TextEncoder, say: fix the runtime), then try again.";

/**
 * The built-in error classes a bug or a broken runtime throws. Not
 * `RangeError`: an allocation that fails under memory pressure throws one
 * ("Array buffer allocation failed"), and that passes.
 */
const PROGRAMMING_NAMES: ReadonlySet<string> = new Set([
  "ReferenceError",
  "SyntaxError",
  "EvalError",
  "URIError",
  "TypeError",
]);

/** How deep a `cause` chain is followed (a chain may loop). */
const MAX_CAUSES = 8;

/**
 * Whether `error`, thrown inside a store call, is a bug or a broken runtime
 * rather than a failure of the store:
 *
 * - `ReferenceError`, `EvalError`, `URIError`: always. No network or
 *   service failure is reported as one.
 * - `SyntaxError`: unless it comes from `JSON.parse` (its message names
 *   JSON): a store that parses an answer meets a proxy's error page or a cut
 *   body there during an outage, which heals.
 * - `TypeError`: unless it looks like a network failure. `fetch` reports
 *   every one as a `TypeError` (`fetch failed`, `terminated`) with what went
 *   wrong as `cause`: one with a system or undici error `code` of its own
 *   (`ECONNRESET`, `UND_ERR_SOCKET`), or whose `cause` is not itself a bug,
 *   is a network failure. Except `fetch failed` for one of fetch's reasons to
 *   send nothing at all (`unknown scheme`, `bad port`; see
 *   {@link NOTHING_SENT}): a request that can never go out is a bug. Other
 *   code-less causes stay network failures: fetch gives the same plain
 *   `Error` for answers that heal (`redirect count exceeded`, `unexpected
 *   redirect`, a proxy's 407). Node's own argument checks carry `ERR_…`
 *   codes: those are bugs.
 *
 * Never a `RangeError` (an allocation that fails under memory pressure) or
 * any other class. An error that carries an HTTP answer (an SDK's
 * `$metadata`, `$response`, a status) is a service's answer the client
 * failed to read, never a bug of this kind. Judged by name, not
 * `instanceof`, so errors of another realm (a worker, a `vm` context) are
 * read alike.
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
  if (cause === undefined || cause === null || programming(cause, depth + 1)) return true;
  return read(error, "message") === "fetch failed" && nothingSent(cause);
}

/**
 * The reasons `fetch` (undici, Node 18 to 22) gives, as a code-less plain
 * `Error` under `fetch failed`, for a request it refuses before sending
 * anything: a URL or option it will never send, so retrying cannot help.
 * Every other code-less reason is about an answer (a redirect loop, a
 * redirect with `redirect: "error"`, a redirect to another scheme, a
 * proxy's 407) and may heal. Fetch also gives `bad port` when a redirect
 * points at a port it refuses; that is kept here, as a store whose own URL
 * has such a port (a configuration that never works) is far more likely
 * than a server that redirects to one. Reasons fetch gives only for
 * request modes a store never uses (`same-origin`, `no-cors`,
 * `only-if-cached`) are left out: after a redirect they too are answers.
 */
const NOTHING_SENT: ReadonlySet<string> = new Set([
  "unknown scheme",
  "bad port",
  "about scheme is not supported",
  "not implemented... yet...",
  "invalid method",
  "failed to fetch the data URL",
  "local URLs only",
]);

/** Whether `cause`, of a `fetch failed`, is one of fetch's {@link NOTHING_SENT} reasons. */
function nothingSent(cause: unknown): boolean {
  if (typeof cause !== "object" || cause === null) return false;
  if (read(cause, "code") !== undefined || carriesAnswer(cause)) return false;
  const message = read(cause, "message");
  return typeof message === "string" && NOTHING_SENT.has(message);
}

/**
 * Whether `error` or an error in its `cause` chain is a
 * {@link isProgrammingError programming error}: a store's own wrapping of a
 * bug (a `StorageError` whose cause is one) is found too.
 */
export function involvesProgrammingError(error: unknown): boolean {
  let current = error;
  for (let depth = 0; depth <= MAX_CAUSES; depth++) {
    if (isProgrammingError(current)) return true;
    if (typeof current !== "object" || current === null) return false;
    current = read(current, "cause");
  }
  return false;
}

/** Codes of system errors (`ECONNRESET`, `EAI_AGAIN`) and undici's (`UND_ERR_SOCKET`). */
function isNetworkCode(code: unknown): boolean {
  if (typeof code !== "string") return false;
  return code.startsWith("UND_ERR_") || (/^E[A-Z0-9_]+$/.test(code) && !code.startsWith("ERR_"));
}

/**
 * Whether `error` carries an HTTP answer, as the cloud SDKs' errors do (GCS's
 * in a numeric `code`). A `DOMException` has a numeric `code` too, but none
 * of its names is one this rule looks at.
 */
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

/** fetch's wording for a URL it cannot parse: the rest is the URL as given, secrets and all. */
const UNPARSED_URL = /^(Failed to parse URL from )([\s\S]*)$/;
/** A URL inside a message (the scheme's length is bounded so a long token costs linear time). */
const URL_IN_TEXT = /\b[a-zA-Z][a-zA-Z0-9+.-]{0,31}:\/\/[^\s"'<>]+/g;

/**
 * `TypeError: x is not a function`: a thrown error's class name and message,
 * safe to log. The message may hold a URL (fetch's `Failed to parse URL from
 * <url>` has a presigned or SAS URL as given), so URLs keep their scheme,
 * host and path only, and other secret-looking parts are masked.
 */
export function describeThrown(error: unknown): string {
  const message = safeText(messageOf(error));
  const name = typeof error === "object" && error !== null ? read(error, "name") : undefined;
  // Of another realm, `messageOf` has it as `String(error)`: "TypeError: …" already.
  return typeof name === "string" && name !== "" && !message.startsWith(name)
    ? `${name}: ${message}`
    : message;
}

function safeText(message: string): string {
  const text = redactSecrets(message);
  const unparsed = UNPARSED_URL.exec(text);
  return unparsed === null
    ? text.replace(URL_IN_TEXT, (url) => redactUrl(url))
    : `${unparsed[1]}${redactUrl(unparsed[2]!)}`;
}

/**
 * The permanent {@link StorageError} a store call that failed with `error`, a
 * {@link isProgrammingError programming error}, becomes: `what` (the call)
 * failed with the error (named, redacted), not an outage, and `fix` (what to
 * do: {@link FIX_THE_STORE} for a store of the user's own, {@link FIX_FILESTORE}).
 * `error` is its `cause`.
 */
export function programmingFailure(
  what: string,
  error: unknown,
  fix: string = FIX_THE_STORE,
): StorageError {
  return new StorageError(
    `${what} failed with ${describeThrown(error)}${fetchReason(error)}. This is not a store outage, so it is not retried: ${fix}`,
    { cause: error, permanent: true },
  );
}

/** fetch's reason for a `fetch failed` (` (bad port)`), which its message alone does not say. */
function fetchReason(error: unknown): string {
  if (typeof error !== "object" || error === null || read(error, "message") !== "fetch failed")
    return "";
  const cause = read(error, "cause");
  if (typeof cause !== "object" || cause === null) return "";
  const reason = read(cause, "message");
  return typeof reason === "string" && reason !== "" ? ` (${safeText(reason)})` : "";
}
