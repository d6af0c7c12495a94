/** The worker's public shapes: the handler, its context and the worker's options. */
import type { Logger } from "../logger.js";
import type { Claim } from "../queue/types.js";

/** What a handler gets besides the job. */
export interface JobContext {
  /** Aborts when the job is cancelled, its lease is lost, or the queue closes. */
  signal: AbortSignal;
  /** Extend the lease to `extensionMs` from now; resolves with the new expiry. */
  renewLease(extensionMs: number): Promise<number>;
}

/**
 * Processes one job. Returning acks it; throwing nacks it with the error's
 * message (or dead-letters it for a `PermanentFailure`). Must be idempotent:
 * delivery is at least once.
 */
export type Handler = (job: Claim, ctx: JobContext) => unknown | Promise<unknown>;

/** Options of `runWorker`. */
export interface WorkerOptions {
  /**
   * Jobs processed at the same time.
   * @default 1
   */
  concurrency?: number;
  /**
   * Longest idle wait for a job before claiming again, in milliseconds.
   * @default 1_000
   */
  pollIntervalMs?: number;
  /**
   * Lease of each claim, in milliseconds.
   * @default the queue's `leaseMs`
   */
  leaseMs?: number;
  /**
   * Renew each claim's lease while its handler runs (every third of the
   * lease), so `leaseMs` bounds how fast a crashed process's jobs come back,
   * not how long a handler may run. If a lease is lost anyway (the job was
   * cancelled, or the process stalled for longer than the lease), `ctx.signal`
   * aborts and the job's settlement fails with one logged line.
   * @default true
   */
  autoRenew?: boolean;
  /**
   * Shutdown: stop claiming, let in-flight jobs finish and settle, then resolve.
   * @default none (runs until the queue closes)
   */
  signal?: AbortSignal;
  /**
   * Where settlement failures are reported.
   * @default console warnings and errors
   */
  logger?: Logger;
}
