/** Raised when queue records or snapshots are truncated or malformed. */
export class DecodeError extends Error {
  override name = "DecodeError";
}
