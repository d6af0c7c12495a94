/**
 * The shape of a transition: one applied, durable record as the commit
 * boundary saw it, with the job as it was just before and why the queue
 * decided it. Recorded by the observer seam (`observe.ts`), read by the
 * life-cycle steps (`lifecycle-steps.ts`) and by every observer.
 */
import type { QueueRecord } from "./records/codec.js";
import type { JobStatus } from "./types.js";

/** Why the queue decided a record, where the record itself does not say. */
export type TransitionCause =
  /** The reaper found the claim's lease expired. */
  | "lease_expired"
  /** At open: the claim belonged to a process that is gone. */
  | "interrupted";

/** The job a record acts on, as it was just before the record applied. */
export interface JobBefore {
  readonly id: string;
  readonly queue: string;
  readonly status: JobStatus;
  readonly attempts: number;
  readonly enqueuedAt: number;
  /** While claimed: when the current claim began. */
  readonly claimedAt: number | undefined;
}

/** One applied, durable record as the commit boundary saw it. */
export interface Transition {
  readonly record: QueueRecord;
  /** The job the record acts on before it applied; `undefined` for enqueues, promotions and sweeps. */
  readonly job: JobBefore | undefined;
  readonly cause: TransitionCause | undefined;
  /** Wall time of the commit (ms since the UNIX epoch). */
  readonly at: number;
}
