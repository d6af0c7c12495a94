/**
 * Marks a `PermanentFailure` of either build of the package (ESM or
 * CommonJS): a process can load both, and a handler may throw the other
 * build's class, which `instanceof` does not recognise.
 */
const PERMANENT_FAILURE = Symbol.for("taquba.permanentFailure");

/**
 * Thrown by a worker handler to dead-letter the job at once (no retry), with
 * the message as the job's `lastError`. Like `Error`, it takes no message
 * at all too (`new PermanentFailure()`); the job's `lastError` is then
 * "PermanentFailure".
 */
export class PermanentFailure extends Error {
  static {
    Object.defineProperty(PermanentFailure.prototype, PERMANENT_FAILURE, { value: true });
  }

  constructor(reason?: string, options?: { cause?: unknown }) {
    super(reason, options);
    this.name = "PermanentFailure";
  }
}

/**
 * Is `error` a {@link PermanentFailure} (or a subclass) of either build of the
 * package? Never throws: a handler may throw anything, including a value
 * whose every read throws (a revoked `Proxy`), which is then no
 * `PermanentFailure`.
 */
export function isPermanentFailure(error: unknown): boolean {
  if (typeof error !== "object" || error === null) return false;
  try {
    return (error as { [PERMANENT_FAILURE]?: unknown })[PERMANENT_FAILURE] === true;
  } catch {
    return false;
  }
}
