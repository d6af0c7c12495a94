/** The errors taquba throws: their classes and codes, recognised across builds and realms. */

import { types } from "node:util";

/**
 * Every error thrown by taquba extends {@link TaqubaError} and carries a stable
 * `code`, so callers can branch on `err.code` without `instanceof` across
 * package copies.
 */
export type TaqubaErrorCode =
  | "INVALID_ARGUMENT"
  | "JOB_NOT_FOUND"
  | "CLAIM_LOST"
  | "FENCED"
  | "CLOSED"
  | "STORAGE"
  | "CORRUPTION"
  | "UNSUPPORTED_STORE"
  | "DUPLICATE_JOB_ID"
  | "CONFLICT";

const CODES: ReadonlySet<string> = new Set<TaqubaErrorCode>([
  "INVALID_ARGUMENT",
  "JOB_NOT_FOUND",
  "CLAIM_LOST",
  "FENCED",
  "CLOSED",
  "STORAGE",
  "CORRUPTION",
  "UNSUPPORTED_STORE",
  "DUPLICATE_JOB_ID",
  "CONFLICT",
]);

/**
 * The `code` of a taquba error, also one thrown by the package's other build:
 * a process can load both the ESM and the CommonJS build (an ESM app handing
 * a store to a CommonJS library), and then `instanceof` does not recognise the
 * other build's errors. `undefined` for anything else.
 */
export function taqubaErrorCode(error: unknown): TaqubaErrorCode | undefined {
  if (error instanceof TaqubaError) return error.code;
  if (!(error instanceof Error) && !types.isNativeError(error)) return undefined;
  const code = (error as { code?: unknown }).code;
  return typeof code === "string" && CODES.has(code) ? (code as TaqubaErrorCode) : undefined;
}

/** Base class of every error taquba throws. */
export abstract class TaqubaError extends Error {
  /** A stable name of the kind of error, to branch on instead of the message. */
  abstract readonly code: TaqubaErrorCode;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A bad argument: the message names the argument and what was expected. Nothing was changed. */
export class InvalidArgumentError extends TaqubaError {
  readonly code = "INVALID_ARGUMENT" as const;
}

/** An enqueue named a `jobId` that a job of this store already has. Nothing was written. */
export class DuplicateJobIdError extends TaqubaError {
  readonly code = "DUPLICATE_JOB_ID" as const;
}

/**
 * A transaction's `kvCheck` found a value other than the one expected (or a
 * value where it expected none, or none where it expected one). Nothing of
 * the transaction was written; read again and retry if that still makes sense.
 */
export class ConflictError extends TaqubaError {
  readonly code = "CONFLICT" as const;
}

/** The job does not exist in the state the operation requires. */
export class JobNotFoundError extends TaqubaError {
  readonly code = "JOB_NOT_FOUND" as const;
}

/**
 * `requeueDeadJob` of a dead job whose flow lost a child to a removal: the
 * job exists and is dead, but its flow cannot run again, because a parent
 * would run without that child's input. A {@link JobNotFoundError} (no dead
 * job that can run again) so existing handlers keep working; `removedChild`
 * names the child. Remove the flow's dead jobs, or enqueue the flow again.
 */
export class FlowNotRequeueableError extends JobNotFoundError {
  /** Public id of the removed child that keeps the flow from running again. */
  readonly removedChild: string;

  constructor(message: string, removedChild: string) {
    super(message);
    this.removedChild = removedChild;
  }
}

/**
 * Settling or renewing a claim that is no longer live (reaped, already
 * settled, from before a reopen, of another queue, or a `getJob` record). A
 * value that is not a claim or job record at all (`null`, a string, `{ id }`)
 * is an `InvalidArgumentError` instead.
 */
export class ClaimLostError extends TaqubaError {
  readonly code = "CLAIM_LOST" as const;
}

/** Options of {@link FencedError}. */
export interface FencedErrorOptions {
  cause?: unknown;
  /**
   * Whether the write this error answers may have been applied anyway.
   * @default false
   */
  inDoubt?: boolean;
}

/**
 * Another writer opened the store; this handle is permanently closed.
 *
 * `inDoubt: true` means the write this error answers may have been applied
 * anyway (its WAL create was in flight and its outcome could not be
 * learnt): treat it as maybe-applied, and check (for example with `getJob`)
 * from the new writer before doing it again. With `inDoubt: false` the write
 * was not applied.
 */
export class FencedError extends TaqubaError {
  readonly code = "FENCED" as const;
  /** `true` when the write may have been applied anyway: treat it as maybe-applied. */
  readonly inDoubt: boolean;
  constructor(message: string, options?: FencedErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.inDoubt = options?.inDoubt ?? false;
  }
}

/** The queue (or log) was closed. */
export class ClosedError extends TaqubaError {
  readonly code = "CLOSED" as const;
}

/** Options of {@link StorageError}. */
export interface StorageErrorOptions {
  /**
   * The underlying error (the SDK's or the file system's), kept as `error.cause`.
   * @default undefined
   * @example { cause: sdkError }
   */
  cause?: unknown;
  /**
   * The failure cannot heal by retrying (a missing bucket or container, wrong
   * or missing credentials, a missing optional SDK, a path that is not a
   * usable directory).
   * @default false
   * @example { permanent: true }
   */
  permanent?: boolean;
  /**
   * Whether the write this error answers may have been applied anyway.
   * @default false
   * @example { inDoubt: true }
   */
  inDoubt?: boolean;
}

/**
 * The object store failed; `cause` holds the underlying error.
 *
 * `permanent` tells the two kinds apart. A transient failure (a timeout, a
 * dropped connection, a 5xx answer, throttling) is retried with backoff before
 * it reaches the caller. A permanent one (`permanent: true`) is not retried:
 * its message says what to fix.
 *
 * `inDoubt: true` means the write this error answers may have been applied
 * anyway (its WAL create's reply was lost and reading the object back failed
 * too): treat it as maybe-applied, and check (for example with `getJob`
 * after reopening) before doing it again. With `inDoubt: false` the write
 * was not applied.
 */
export class StorageError extends TaqubaError {
  readonly code = "STORAGE" as const;
  /** `true` when retrying cannot help; the message says what to fix. */
  readonly permanent: boolean;
  /** `true` when the write may have been applied anyway: treat it as maybe-applied. */
  readonly inDoubt: boolean;
  constructor(message: string, options?: StorageErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.permanent = options?.permanent ?? false;
    this.inDoubt = options?.inDoubt ?? false;
  }
}

/** A stored object failed its checksum or format check. `objectKey` names it. */
export class CorruptionError extends TaqubaError {
  readonly code = "CORRUPTION" as const;
  /**
   * @param objectKey - the damaged object's key (kept as `error.objectKey`)
   * @param detail - what is wrong with it, for the message
   */
  constructor(
    readonly objectKey: string,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(`corrupt object "${objectKey}": ${detail}`, options);
  }
}

/** The store does not honour conditional (create-if-absent) writes, so fencing would be unsafe. */
export class UnsupportedStoreError extends TaqubaError {
  readonly code = "UNSUPPORTED_STORE" as const;
}
