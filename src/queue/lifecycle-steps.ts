/**
 * The job life-cycle steps that events and metrics share: what each
 * committed transition was for a job (enqueued, claimed, completed, retried,
 * dead, expired, cancelled, released, removed, requeued, woken). The
 * transitions come from the observer seam at the commit boundary
 * (`observe.ts`); a new record kind adds its case in {@link stepsOf}.
 */

import type { RemovableStatus } from "./operations.js";
import { Tag } from "./records/tags.js";
import type { Transition } from "./transition.js";

/** Identifies a job and its queue; every life-cycle step carries it. */
interface StepBase {
  id: string;
  queue: string;
  /** Wall time of the step (ms since the UNIX epoch). */
  at: number;
}

/** One step in a job's life, as events and metrics see it. */
export type LifecycleStep =
  | (StepBase & { kind: "enqueued"; runAt: number | undefined })
  | (StepBase & { kind: "claimed"; attempt: number; enqueuedAt: number })
  | (StepBase & { kind: "completed"; attempt: number; claimedAt: number | undefined })
  | (StepBase & {
      kind: "retried";
      attempt: number;
      error: string | undefined;
      runAt: number | undefined;
      claimedAt: number | undefined;
    })
  | (StepBase & { kind: "dead"; attempt: number; error: string; claimedAt: number | undefined })
  | (StepBase & { kind: "cancelled" })
  | (StepBase & { kind: "expired"; attempt: number; claimedAt: number | undefined })
  | (StepBase & { kind: "released"; attempt: number })
  | (StepBase & { kind: "removed"; state: RemovableStatus })
  | (StepBase & { kind: "requeued" })
  | (StepBase & { kind: "woken" });

/**
 * The life-cycle steps of `transitions`, in order. A lease expiry is an
 * `expired` step followed by its outcome (`retried`, `dead` or `cancelled`).
 * A release of an unrun claim is a `released` step (`attempt` is the one
 * given back). A removal (`removeJob`, `removeJobs`, and each flow job a
 * removal takes along) is a `removed` step with the status the job had. A
 * dead job's requeue (and each dead flow job requeued with it) is a
 * `requeued` step, a scheduled job made due by `wakeScheduled` a `woken`
 * one. Promotions, sweeps and cancel requests are no steps.
 */
export function lifecycleOf(transitions: readonly Transition[]): LifecycleStep[] {
  const steps: LifecycleStep[] = [];
  for (const transition of transitions) stepsOf(transition, steps);
  return steps;
}

/** Adds the life-cycle steps of one transition to `steps` (see {@link lifecycleOf}). */
export function stepsOf(transition: Transition, steps: LifecycleStep[]): void {
  const { record, job, cause, at } = transition;
  const enqueue =
    record.tag === Tag.Enqueue ? record : record.tag === Tag.ScheduleFire ? record.job : undefined;
  if (enqueue !== undefined) {
    steps.push({
      kind: "enqueued",
      id: enqueue.jobId ?? enqueue.id,
      queue: enqueue.queue,
      at,
      runAt: enqueue.runAt,
    });
    return;
  }
  if (job === undefined) return;
  const base = { id: job.id, queue: job.queue, at };
  const attempt = job.attempts;
  const { claimedAt } = job;
  if (cause === "lease_expired" && job.status === "claimed")
    steps.push({ ...base, kind: "expired", attempt, claimedAt });
  switch (record.tag) {
    case Tag.Claim:
      steps.push({
        ...base,
        kind: "claimed",
        attempt: attempt + 1,
        enqueuedAt: job.enqueuedAt,
      });
      break;
    case Tag.Ack:
      steps.push({ ...base, kind: "completed", attempt, claimedAt });
      break;
    case Tag.Retry:
      steps.push({
        ...base,
        kind: "retried",
        attempt,
        error: record.error,
        runAt: record.runAt,
        claimedAt,
      });
      break;
    case Tag.Dead:
      steps.push({ ...base, kind: "dead", attempt, error: record.reason, claimedAt });
      break;
    case Tag.Cancel:
      steps.push({ ...base, kind: "cancelled" });
      break;
    case Tag.Release:
      steps.push({ ...base, kind: "released", attempt });
      break;
    case Tag.Remove:
      // `apply` never removes a claimed job (it is cancelled instead).
      if (job.status !== "claimed") steps.push({ ...base, kind: "removed", state: job.status });
      break;
    case Tag.RequeueDead:
      steps.push({ ...base, kind: "requeued" });
      break;
    case Tag.Wake:
      steps.push({ ...base, kind: "woken" });
      break;
  }
}
