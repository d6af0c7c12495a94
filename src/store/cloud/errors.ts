/** Cloud SDK errors: redacting secrets from them and classifying them (exists, missing, transient, permanent) as `StorageError`s. */
import { StorageError } from "../../errors.js";
import { messageOf } from "../../util/message.js";
import { redactSecrets } from "../../util/redact.js";

/**
 * The failure an SDK reported, reduced to what is safe to log: name, message,
 * code, HTTP status and request id. SDK errors keep the request (with its
 * signed headers) and the response on the object, so they are not passed on.
 */
export class CloudRequestError extends Error {
  readonly code: string | undefined;
  readonly statusCode: number | undefined;
  readonly requestId: string | undefined;

  constructor(original: unknown) {
    const source = (original ?? {}) as Record<string, unknown>;
    const message = messageOf(original);
    super(redactSecrets(message));
    this.name = typeof source.name === "string" ? source.name : "Error";
    const code = source.code ?? source.Code;
    this.code = typeof code === "string" || typeof code === "number" ? String(code) : undefined;
    this.statusCode = httpStatusOf(original);
    this.requestId = requestIdOf(source);
    if (original instanceof Error && original.stack !== undefined)
      this.stack = redactSecrets(original.stack);
  }
}

/**
 * A success answer that is not the service's: a proxy's or captive portal's
 * HTML page, an empty body, or a document of another shape. The client
 * library took it for a success; the store refuses it rather than read it as
 * an empty listing or as an object's bytes. It carries no HTTP status, so it
 * is transient: the next try may reach the service.
 */
export class UnexpectedAnswerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UnexpectedAnswerError";
  }
}

/**
 * Refuses a get answer labelled as an HTML page: the stores write untyped
 * bytes (no key has an extension a type could be guessed from), so that is a
 * proxy's page, not an object.
 */
export function checkNotHtml(operation: string, contentType: unknown): void {
  if (typeof contentType === "string" && /^\s*text\/html(?![\w.+-])/i.test(contentType))
    throw new UnexpectedAnswerError(
      `the answer to a ${operation} request is an HTML page (Content-Type: ${redactSecrets(contentType)}), not the service's: a proxy or captive portal in the way?`,
    );
}

/** The HTTP status an SDK error carries, whichever SDK threw it. */
export function httpStatusOf(err: unknown): number | undefined {
  const source = (err ?? {}) as {
    statusCode?: unknown;
    status?: unknown;
    code?: unknown;
    $metadata?: { httpStatusCode?: unknown };
  };
  for (const candidate of [source.$metadata?.httpStatusCode, source.statusCode, source.status]) {
    if (typeof candidate === "number") return candidate;
  }
  // The GCS client puts the HTTP status in `code`.
  return typeof source.code === "number" ? source.code : undefined;
}

/** The error name/code an SDK error carries (`NoSuchKey`, `BlobAlreadyExists`, ...). */
export function errorCodeOf(err: unknown): string | undefined {
  const source = (err ?? {}) as {
    name?: unknown;
    code?: unknown;
    Code?: unknown;
    details?: { errorCode?: unknown };
  };
  // Azure puts the service's code in `details.errorCode` when the body is empty (HEAD).
  for (const candidate of [source.code, source.Code, source.details?.errorCode, source.name]) {
    if (typeof candidate === "string") return candidate;
  }
  return undefined;
}

function requestIdOf(source: Record<string, unknown>): string | undefined {
  const metadata = source.$metadata as { requestId?: unknown } | undefined;
  const candidate = metadata?.requestId ?? source.requestId;
  return typeof candidate === "string" ? candidate : undefined;
}

/**
 * How a failed request should be treated: `permanent` failures cannot heal by
 * retrying, and `hint` tells the operator what to fix.
 */
export interface Verdict {
  permanent: boolean;
  hint?: string;
}

const TRANSIENT: Verdict = { permanent: false };

/** HTTP answers that mean "this request will never succeed as sent". */
const PERMANENT_STATUSES: ReadonlySet<number> = new Set([400, 401, 403, 404, 405, 411, 501]);
/** Codes some services send with a permanent-looking status that heal on their own. */
const TRANSIENT_CODES: ReadonlySet<string> = new Set([
  "RequestTimeout",
  "IncompleteBody",
  "BadDigest",
  "OperationTimedOut",
  "ServerBusy",
  "InternalError",
  "SlowDown",
]);

/**
 * The verdict every cloud adapter starts from: a 4xx answer other than a
 * timeout, a conflict or throttling is permanent; 5xx, 408, 409, 429,
 * dropped connections, DNS failures and timeouts are transient. So is an
 * error with no answer at all, even a `TypeError` or `SyntaxError`: an SDK
 * throws those on a garbled or cut answer (a proxy's page), which heals.
 */
export function baseVerdict(err: unknown): Verdict {
  const code = errorCodeOf(err);
  if (code !== undefined && TRANSIENT_CODES.has(code)) return TRANSIENT;
  const status = httpStatusOf(err);
  if (status === 301)
    return { permanent: true, hint: "the service redirects elsewhere: set the region or endpoint" };
  if (status !== undefined && PERMANENT_STATUSES.has(status)) return { permanent: true };
  return TRANSIENT;
}

/**
 * Wrap an SDK failure as a {@link StorageError} naming the store, operation
 * and key, with a credential-free {@link CloudRequestError} as `cause`, and
 * marked permanent (with what to fix) when `verdict` says so.
 */
export function toStorageError(
  storeDescription: string,
  operation: string,
  key: string,
  err: unknown,
  verdict: Verdict = baseVerdict(err),
): StorageError {
  if (err instanceof StorageError) return err;
  const cause = new CloudRequestError(err);
  const status = cause.statusCode === undefined ? "" : ` (HTTP ${cause.statusCode})`;
  const hint = verdict.permanent && verdict.hint !== undefined ? `. ${verdict.hint}` : "";
  const said = [cause.name, cause.message].filter((part) => !PLACEHOLDERS.has(part));
  // "does not exist." then ". Create it…" would read "exist.. Create".
  const what =
    said.length === 0
      ? ""
      : `: ${said.join(": ")}`.trimEnd().replace(/\.$/, hint === "" ? "." : "");
  return new StorageError(
    `${operation} "${key}" on ${storeDescription} failed${status}${what}${hint}`,
    { cause, permanent: verdict.permanent },
  );
}

/**
 * What an SDK puts in an error's name or message when the answer carried
 * none (radosgw sends no message; a server that is not S3 sends no code):
 * they would read like a second, unexplained failure.
 */
const PLACEHOLDERS: ReadonlySet<string> = new Set(["", "Unknown", "UnknownError"]);

/** Whether the service's answer named no error of its own (its SDK filled in a placeholder). */
export function hasNoServiceCode(err: unknown): boolean {
  const code = errorCodeOf(err);
  return code === undefined || PLACEHOLDERS.has(code);
}

/** The `Server` header of the answer an SDK error came from, when the SDK kept it. */
export function serverHeaderOf(err: unknown): string | undefined {
  const source = (err ?? {}) as {
    $response?: { headers?: Record<string, unknown> };
    response?: { headers?: { get?: (name: string) => unknown } | Record<string, unknown> };
  };
  const fromS3 = source.$response?.headers?.server;
  if (typeof fromS3 === "string") return redactSecrets(fromS3);
  const headers = source.response?.headers;
  const fromAzure =
    headers !== undefined && typeof headers.get === "function"
      ? headers.get("server")
      : (headers as Record<string, unknown> | undefined)?.server;
  return typeof fromAzure === "string" ? redactSecrets(fromAzure) : undefined;
}
