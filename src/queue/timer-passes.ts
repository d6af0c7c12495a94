/** The scheduler's and the reaper's passes over an open queue: bulk records sized to slices, one slice per turn of the event loop. */
import { type MonotonicNow, StepSizer } from "../util/slices.js";
import type { QueueCore } from "./core.js";
import {
  decideCancelledSweeps,
  decideLeaseExpired,
  decidePromotion,
  decideSweeps,
  nextRunAt,
} from "./decisions.js";
import { leaseExpired } from "./leases.js";
import { Pass } from "./pass.js";
import { BULK_RECORD_JOBS, BULK_RECORD_MIN_JOBS } from "./records/bulk.js";
import { withProgress } from "./settle.js";

/** First estimate of the cost of moving one job in a bulk record (ms). */
const BULK_STEP_MS_PER_JOB = 0.004;

/** The timer passes of one queue, each run one at a time, with the step sizes they learned. */
export class TimerPasses {
  readonly #core: QueueCore;
  readonly #promotion: Pass;
  readonly #reaping: Pass;
  readonly #promotionSteps: StepSizer;
  readonly #expirySteps: StepSizer;
  readonly #sweepSteps: StepSizer;
  readonly #tombstoneSteps: StepSizer;

  constructor(core: QueueCore) {
    this.#core = core;
    // Read when a step is timed: the core sets its slice clock after it makes its passes.
    const now = (): number => core.sliceNow();
    this.#promotionSteps = bulkSteps(now);
    this.#expirySteps = bulkSteps(now);
    this.#sweepSteps = bulkSteps(now);
    this.#tombstoneSteps = bulkSteps(now);
    this.#promotion = new Pass(restartOf(this.#promotionSteps));
    this.#reaping = new Pass(restartOf(this.#expirySteps, this.#tombstoneSteps, this.#sweepSteps));
  }

  /**
   * The scheduler's pass: promote every due scheduled job, in records sized
   * to a slice, one slice per turn of the event loop (the first at once),
   * waking waiters; then re-arm. Resolves once its records are durable.
   */
  promoteDue(): Promise<void> {
    const core = this.#core;
    return this.#promotion.run((written) => {
      const budget = core.sliceBudget();
      const steps = this.#promotionSteps;
      for (;;) {
        const limit = steps.size(budget);
        const record = core.closed ? undefined : decidePromotion(core.state, core.now(), limit)[0];
        if (record === undefined) break;
        const qs = core.state.queues.get(record.queue)!;
        const before = qs.scheduled.size;
        steps.begin();
        written.push(core.commitInBackground([record]));
        const promoted = before - qs.scheduled.size;
        steps.end(promoted);
        core.dispatch(record.queue);
        if (
          (promoted === 0 || budget.spent()) &&
          decidePromotion(core.state, core.now(), 1).length > 0
        )
          return true;
      }
      this.rearmScheduler();
      return false;
    });
  }

  /**
   * The reaper's pass: expire due leases, then age out done and dead jobs per
   * their queue's retention; in records sized to a slice, one slice per turn
   * of the event loop (the first at once). Resolves once its records are durable.
   */
  reap(): Promise<void> {
    const core = this.#core;
    return this.#reaping.run((written) => {
      const budget = core.sliceBudget();
      for (;;) {
        if (core.closed) return false;
        const now = core.now();
        const expiry = this.#expirySteps;
        expiry.begin();
        const monotonicNow = core.monotonicNow();
        const expired = core.leases.takeExpired(monotonicNow, expiry.size(budget));
        // The step only renewed leases that workers renew, and more ran out: the next slice.
        if (expired.length === 0 && core.leases.hasExpired(monotonicNow)) return true;
        if (expired.length > 0) {
          const requeued = new Set<string>();
          const records = expired.map((lease) => {
            lease.lose(leaseExpired);
            const record = withProgress(decideLeaseExpired(core.state, lease.job, now), lease);
            requeued.add(lease.queue); // a job to claim, or room under a group's claim cap
            return record;
          });
          written.push(core.commitInBackground(records, "lease_expired"));
          expiry.end(expired.length);
          for (const name of requeued) core.dispatch(name);
          if (budget.spent()) return true;
          continue;
        }
        // Tombstones of cancelled jobs past their queue's resultRetentionMs.
        const dropping = this.#tombstoneSteps;
        const drop = decideCancelledSweeps(
          core.state,
          core.settings.configs,
          now,
          dropping.size(budget),
        )[0];
        if (drop !== undefined) {
          const before = core.state.cancelled.size;
          dropping.begin();
          written.push(core.commitInBackground([drop]));
          const dropped = before - core.state.cancelled.size;
          dropping.end(dropped);
          if (dropped === 0 || budget.spent()) return dropped > 0;
          continue;
        }
        const configs = core.settings.configs;
        const steps = this.#sweepSteps;
        const sweep = decideSweeps(core.state, configs, now, steps.size(budget))[0];
        if (sweep === undefined) return false;
        const qs = core.state.queues.get(sweep.queue)!;
        const before = qs.doneKept + qs.deadByTime.size;
        steps.begin();
        written.push(core.commitInBackground([sweep]));
        const swept = before - qs.doneKept - qs.deadByTime.size;
        steps.end(swept);
        if (swept === 0 || budget.spent())
          return decideSweeps(core.state, configs, now, 1).length > 0;
      }
    });
  }

  /** Arms the scheduler's timer for the next due job, if any. */
  rearmScheduler(): void {
    const core = this.#core;
    const runAt = nextRunAt(core.state);
    if (runAt !== undefined) core.timers.scheduleAt(runAt);
  }
}

/**
 * A pass's start: its sizers' estimates date from the pass before (another
 * kind of job may be due now, with code and caches cold), so each probes
 * with small steps first (see `StepSizer.restart`).
 */
function restartOf(...sizers: StepSizer[]): () => void {
  return () => {
    for (const sizer of sizers) sizer.restart();
  };
}

/** The step sizer of one kind of bulk record (promotion, lease expiry, retention sweep). */
function bulkSteps(now: MonotonicNow): StepSizer {
  return new StepSizer(BULK_RECORD_MIN_JOBS, BULK_RECORD_JOBS, BULK_STEP_MS_PER_JOB, now);
}
