/**
 * How `GcsStore` reads the client library's failures: a missing object apart
 * from a missing bucket, and which failures are permanent with what to tell
 * the operator (credentials the library cannot use included). Separate from
 * `gcs.ts`, which makes the calls, as `s3-errors.ts` is for `S3Store`.
 */
import { messageOf } from "../util/message.js";
import { baseVerdict, httpStatusOf, type Verdict } from "./cloud/errors.js";

/**
 * A missing object, as opposed to a missing bucket: GCS answers 404 for both,
 * and names the bucket in the message ("The specified bucket does not exist",
 * "No such object: bucket/key").
 */
export function isMissingObject(err: unknown): boolean {
  if (httpStatusOf(err) !== 404) return false;
  const message = messageOf(err);
  return !/bucket does not exist/i.test(message);
}

/**
 * The end of the no-credentials advice that only code can follow (the CLI
 * drops it: its user gives credentials through the environment).
 */
export const GCS_CREDENTIALS_OPTION = ", or pass `keyFilename` or `credentials` to GcsStore";

/** The code-only way to name a key file, in the unreadable-key-file hint (the CLI drops it). */
export const GCS_KEY_FILE_OPTION = " or the store's `keyFilename`";

/** The code-only way to give a key inline, in the incomplete-credentials hint (the CLI drops it). */
export const GCS_INLINE_CREDENTIALS_OPTION = ", or give both in `credentials`";

/** The code-only place of an inline private key, in the unparsable-key hint (the CLI drops it). */
export const GCS_INLINE_KEY_OPTION = " or of `credentials`";

/**
 * What google-auth-library (8 and 9) says, without a code, when
 * GOOGLE_APPLICATION_CREDENTIALS names a directory (a missing file has an
 * `ENOENT` besides), and when a key file lacks a service account's fields.
 */
const NOT_A_FILE = /^The file at ([\s\S]+?) does not exist, or it is not a file\./;
const MISSING_FIELD =
  /^The incoming JSON object does not contain a (?:client_email|private_key) field/;

/**
 * Failures of the client library's auth setup, before any request: a key
 * file it cannot read, a key without the fields a service account has, a
 * private key that does not parse. Retrying cannot heal them.
 */
function credentialsVerdict(err: unknown, keyFilename: string | undefined): Verdict | undefined {
  const source = (err ?? {}) as {
    code?: unknown;
    path?: unknown;
    name?: unknown;
    syscall?: unknown;
  };
  if (isRequestError(err)) return undefined;
  const code = typeof source.code === "string" ? source.code : undefined;
  const message = messageOf(err);
  // A file's error names its system call; a request's error (a connect EACCES) is another
  // call's, or has none once a client library copied its code onto its own error.
  if (code !== undefined && FILE_CODES.has(code) && FILE_CALLS.has(String(source.syscall))) {
    const path = typeof source.path === "string" ? source.path : keyFilename;
    return unreadableKeyFile(path, `cannot be read (${code})`);
  }
  const notAFile = code === undefined ? NOT_A_FILE.exec(message) : null;
  if (notAFile !== null) return unreadableKeyFile(notAFile[1], "is not a file");
  if (code === "MISSING_CREDENTIALS" || (code === undefined && MISSING_FIELD.test(message)))
    return {
      permanent: true,
      hint: `The credentials lack a private_key or client_email: GOOGLE_APPLICATION_CREDENTIALS${GCS_KEY_FILE_OPTION} must name a service-account key file${GCS_INLINE_CREDENTIALS_OPTION}`,
    };
  // OpenSSL's codes on a key that does not parse.
  if (code?.startsWith("ERR_OSSL_"))
    return {
      permanent: true,
      hint: `The credentials' private key cannot be read (${code}): check the private_key of the key file${GCS_INLINE_KEY_OPTION} (a PEM block, "-----BEGIN PRIVATE KEY-----" and its newlines intact)`,
    };
  return undefined;
}

function unreadableKeyFile(path: string | undefined, problem: string): Verdict {
  return {
    permanent: true,
    hint: `The key file${path === undefined ? "" : ` "${path}"`} ${problem}: fix GOOGLE_APPLICATION_CREDENTIALS${GCS_KEY_FILE_OPTION}`,
  };
}

/**
 * Whether `err` is a request's failure (a refused connection, a TLS error), as
 * the client libraries report it: gaxios's `GaxiosError` (its `name` is plain
 * `Error` in gaxios 6; it carries a version under a registered symbol, and
 * the request's `config`) or node-fetch's `FetchError`.
 */
function isRequestError(err: unknown): boolean {
  if (typeof err !== "object" || err === null) return false;
  const source = err as { name?: unknown; config?: unknown };
  return (
    GAXIOS_ERROR in err ||
    source.name === "GaxiosError" ||
    source.name === "FetchError" ||
    (typeof source.config === "object" && source.config !== null)
  );
}

/** The symbol gaxios (6 and later) marks its errors with. */
const GAXIOS_ERROR = Symbol.for("gaxios-gaxios-error");

/** Codes of a file that cannot be read: only the key file is read by the client library. */
const FILE_CODES: ReadonlySet<string> = new Set(["ENOENT", "EISDIR", "ENOTDIR", "EACCES"]);
/** The system calls of reading a file (a socket's EACCES comes from `connect`). */
const FILE_CALLS: ReadonlySet<string> = new Set([
  "open",
  "read",
  "stat",
  "lstat",
  "access",
  "realpath",
]);

/** Which GCS failures are permanent, and what to tell the operator about them. */
export function gcsVerdict(err: unknown, bucket: string, keyFilename: string | undefined): Verdict {
  const status = httpStatusOf(err);
  const message = messageOf(err);
  const credentials = status === undefined ? credentialsVerdict(err, keyFilename) : undefined;
  if (credentials !== undefined) return credentials;
  if (status === 404)
    return {
      permanent: true,
      hint: `The bucket "${bucket}" does not exist: create it, or fix the bucket name`,
    };
  if (status === 401)
    return { permanent: true, hint: "Authentication failed: check the credentials" };
  if (status === 403)
    return {
      permanent: true,
      hint: `Permission denied: allow these credentials to get, create, delete and list objects in bucket "${bucket}"`,
    };
  if (status === undefined && /could not load the default credentials/i.test(message))
    return {
      permanent: true,
      hint: `No Google Cloud credentials found: set GOOGLE_APPLICATION_CREDENTIALS to a service-account key file, or run where Application Default Credentials apply${GCS_CREDENTIALS_OPTION}`,
    };
  return baseVerdict(err);
}
