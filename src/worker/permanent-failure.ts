/**
 * Thrown by a worker handler to dead-letter the job at once (no retry), with
 * the message as the job's `lastError`.
 */
export class PermanentFailure extends Error {
  constructor(reason: string, options?: { cause?: unknown }) {
    super(reason, options);
    this.name = "PermanentFailure";
  }
}
