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
  | "UNSUPPORTED_STORE";

/** Base class of every error taquba throws. */
export abstract class TaqubaError extends Error {
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

/** The job does not exist in the state the operation requires. */
export class JobNotFoundError extends TaqubaError {
  readonly code = "JOB_NOT_FOUND" as const;
}

/** Settling or renewing a claim that is no longer live (reaped, already settled, or not a claim). */
export class ClaimLostError extends TaqubaError {
  readonly code = "CLAIM_LOST" as const;
}

/** Another writer opened the store; this handle is permanently closed. */
export class FencedError extends TaqubaError {
  readonly code = "FENCED" as const;
}

/** The queue (or log) was closed. */
export class ClosedError extends TaqubaError {
  readonly code = "CLOSED" as const;
}

/** The object store failed; `cause` holds the underlying error. */
export class StorageError extends TaqubaError {
  readonly code = "STORAGE" as const;
}

/** A stored object failed its checksum or format check. `objectKey` names it. */
export class CorruptionError extends TaqubaError {
  readonly code = "CORRUPTION" as const;
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
