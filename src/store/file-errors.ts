/**
 * How a {@link FileStore} reads filesystem errors: which codes mean "no such
 * object", which mean the directory is unusable until someone fixes it
 * (permanent `StorageError`s that say what to fix), and the error every
 * other failure becomes (a transient `StorageError`; a permanent one for a
 * bug in the FileStore's code or a broken runtime, see `programming-error.ts`);
 * and the writer thread's errors as the store sees them (`file-writer.ts`).
 */
import { InvalidArgumentError, StorageError } from "../errors.js";
import { messageOf } from "../util/message.js";
import { expectationMessage } from "../validate.js";
import type { ThreadError } from "./file-writer-thread.js";
import {
  describeThrown,
  FIX_FILESTORE,
  isProgrammingError,
  programmingFailure,
} from "./programming-error.js";

/** Errors meaning "no such object" when reading: the file or one of its directories is missing. */
export const MISSING: ReadonlySet<string> = new Set(["ENOENT", "ENOTDIR"]);
/** Errors no retry can heal: the directory is unusable until someone fixes it. */
const PERMANENT: ReadonlyMap<string, string> = new Map([
  ["ENOTDIR", "a file is where a directory is expected: move it away or choose another directory"],
  ["EISDIR", "a directory is where a file is expected: move it away or choose another directory"],
  [
    "EACCES",
    "permission denied: give this process read and write access, or choose another directory",
  ],
  [
    "EPERM",
    "operation not permitted: give this process read and write access, or choose another directory",
  ],
  ["EROFS", "the filesystem is read-only: remount it read-write or choose another directory"],
  ["ELOOP", "too many symbolic links: fix the directory path"],
  ["EXDEV", "the store's directory spans filesystems: keep it on one filesystem"],
]);

/** Codes of an operation the filesystem does not have at all: no retry can heal them. */
const UNSUPPORTED: ReadonlySet<string> = new Set(["ENOTSUP", "EOPNOTSUPP", "ENOSYS"]);

/**
 * What to fix when the filesystem lacks an operation the store needs, or
 * undefined: a hard link (how a create-if-absent places its object; `EPERM`
 * from `link` is how FAT and exFAT say they have none) or an fsync (`EINVAL`
 * where a filesystem cannot fsync a directory). Such a failure is permanent.
 */
function unsupportedHint(err: unknown): string | undefined {
  const code = errorCode(err);
  if (code === undefined) return undefined;
  const syscall = (err as { syscall?: unknown }).syscall;
  if (syscall === "link" && (code === "EPERM" || UNSUPPORTED.has(code)))
    return (
      "the filesystem does not support hard links, which a create-if-absent needs (it links a " +
      "temp file into place): choose a directory on a filesystem that has them (not FAT, exFAT " +
      "or a share without them), writable by this process"
    );
  if (syscall === "fsync" && (code === "EINVAL" || UNSUPPORTED.has(code)))
    return (
      "the filesystem cannot fsync (a file or a directory), which makes a write durable: choose " +
      "a directory on a local filesystem, or turn the store's fsync off for data you can afford to lose"
    );
  if (UNSUPPORTED.has(code))
    return `the filesystem does not support ${typeof syscall === "string" ? `\`${syscall}\`` : "an operation the store needs"}: choose a directory on a local filesystem`;
  return undefined;
}

/** The `code` of a Node.js system error (`"ENOENT"`, …), if it has one. */
export function errorCode(err: unknown): string | undefined {
  return typeof err === "object" && err !== null && "code" in err && typeof err.code === "string"
    ? err.code
    : undefined;
}

/** The error a failed `op` on `key` of the store `store` (its description) rejects with. */
export function fileStoreError(store: string, op: string, key: string, err: unknown): Error {
  if (err instanceof InvalidArgumentError) return err;
  if (errorCode(err) === "ENAMETOOLONG")
    return new InvalidArgumentError(
      expectationMessage("key", "short enough for a file name", JSON.stringify(key), op),
      { cause: err },
    );
  if (err instanceof StorageError) return err;
  // A bug of ours or a broken runtime. Never a writer thread's death: the writer rejects those
  // writes with a plain Error (see FileWriter), whatever killed the thread.
  if (isProgrammingError(err))
    return programmingFailure(`${store}: ${op} "${key}"`, err, FIX_FILESTORE);
  const reason = messageOf(err);
  const hint =
    err instanceof UnusableDirectoryError
      ? err.hint
      : (unsupportedHint(err) ?? PERMANENT.get(errorCode(err) ?? ""));
  return new StorageError(
    `${store}: ${op} "${key}" failed: ${reason}${hint === undefined ? "" : `. The directory cannot be used: ${hint}`}`,
    { cause: err, permanent: hint !== undefined },
  );
}

/** A directory path that cannot be used, found by a check of ours rather than by one system call. */
export class UnusableDirectoryError extends Error {
  constructor(
    message: string,
    /** What to fix, for the message of the permanent `StorageError` it becomes. */
    readonly hint: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = "UnusableDirectoryError";
  }
}

/** The error `mkdir` would give for a file where the directory `path` should be. */
export function notADirectory(path: string, cause: unknown): Error {
  return Object.assign(new Error(`ENOTDIR: not a directory, mkdir '${path}'`, { cause }), {
    code: "ENOTDIR",
  });
}

/**
 * What the writes pending on a thread that died reject with: a plain `Error`
 * naming what killed it (kept as `cause`). A death is an event of the writer,
 * and each write it failed is retried like one of an outage (a new thread or
 * the pool takes the retry), whatever the class of the error that killed it:
 * an out-of-memory in the thread is a `RangeError`, a crash may be a
 * `TypeError`. A thread that keeps dying is the restart rule's to handle
 * (see `file-writer-lifecycle.ts`), not a reason to fail the write for good.
 */
export function threadDied(err: unknown): Error {
  return new Error(`the FileStore writer thread died: ${describeThrown(err)}`, { cause: err });
}

/** The writer thread's error as the Node.js system error the same call would have thrown here. */
export function systemError(error: ThreadError): Error {
  const { message, ...fields } = error;
  const rebuilt: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(fields))
    if (value !== undefined) rebuilt[name] = value;
  return Object.assign(new Error(message), rebuilt);
}
