/** Raised when queue records or snapshots are truncated or malformed. */
export class DecodeError extends Error {
  override name = "DecodeError";
}

/**
 * Raised when a snapshot is well-formed but uses a format this build does
 * not know: a newer release wrote it, not damage (the log checks every
 * checkpoint's checksum before it is decoded). Named `DecodeError` like its
 * base, as callers that only tell decoding from other failures expect.
 */
export class NewerFormatError extends DecodeError {}
