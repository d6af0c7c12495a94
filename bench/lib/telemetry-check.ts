/**
 * What a run's telemetry must have reported, given its set-up: so that a
 * measured overhead is known to come from telemetry that ran (spans sampled
 * as configured, every job counted), not from a set-up that silently did
 * nothing. A mismatch throws.
 */
import type { ObservedTelemetry } from "./telemetry.js";

/** How many enqueue spans the set-up implies. */
export type ExpectedEnqueueSpans =
  /** Exactly this many spans, covering exactly this many jobs (enqueues in sampled requests). */
  | { exact: number; jobs: number }
  /** Root spans sampled by trace id: about `ratio` of `calls`. */
  | { ratio: number; calls: number };

export interface ExpectedTelemetry {
  /** Jobs enqueued and processed (each counted once by every job counter). */
  jobs: number;
  metrics: boolean;
  traces: boolean;
  enqueueSpans: ExpectedEnqueueSpans;
  /**
   * Handler spans: `linked`, exactly one per job whose enqueue span was
   * exported, each linked to it; or root spans sampled by trace id at `ratio`.
   */
  handlerSpans: "linked" | { ratio: number };
}

/** The job counters and histograms whose total is one per job in a run that enqueues and processes every job once. */
const PER_JOB = [
  "taquba.jobs.enqueued",
  "taquba.jobs.claimed",
  "taquba.jobs.completed",
  "taquba.job.wait",
  "taquba.job.duration",
] as const;

/** Whether `count` is a plausible draw of Binomial(`n`, `p`): within 6 standard deviations (and 1). */
function plausible(count: number, n: number, p: number): boolean {
  return Math.abs(count - n * p) <= 6 * Math.sqrt(n * p * (1 - p)) + 1;
}

/** Every way `observed` differs from what `expected` implies (empty: as configured). */
export function telemetryMismatches(
  observed: ObservedTelemetry,
  expected: ExpectedTelemetry,
): string[] {
  const problems: string[] = [];
  const check = (ok: boolean, what: string): void => {
    if (!ok) problems.push(what);
  };
  const { spans, metrics } = observed;
  if (expected.metrics) {
    for (const name of PER_JOB) {
      const total = metrics.totals.get(name) ?? 0;
      check(total === expected.jobs, `${name}: ${total}, expected ${expected.jobs}`);
    }
  } else check(metrics.points === 0, `${metrics.points} metric points with metrics off`);
  check(spans.other === 0, `${spans.other} spans neither producer nor consumer`);
  if (!expected.traces) {
    check(
      spans.producer + spans.consumer === 0,
      `${spans.producer + spans.consumer} spans with traces off`,
    );
    return problems;
  }
  const enqueue = expected.enqueueSpans;
  if ("exact" in enqueue) {
    check(
      spans.producer === enqueue.exact,
      `${spans.producer} enqueue spans, expected ${enqueue.exact}`,
    );
    check(
      spans.producerJobs === enqueue.jobs,
      `enqueue spans cover ${spans.producerJobs} jobs, expected ${enqueue.jobs}`,
    );
  } else
    check(
      plausible(spans.producer, enqueue.calls, enqueue.ratio),
      `${spans.producer} enqueue spans, expected about ${enqueue.calls * enqueue.ratio}`,
    );
  check(
    spans.linkedElsewhere === 0,
    `${spans.linkedElsewhere} handler spans linked to spans not exported`,
  );
  if (expected.handlerSpans === "linked") {
    check(
      spans.consumer === spans.producerJobs,
      `${spans.consumer} handler spans, expected one per traced job (${spans.producerJobs})`,
    );
    check(
      spans.linkedToExported === spans.consumer,
      `${spans.linkedToExported} of ${spans.consumer} handler spans linked to their enqueue span`,
    );
  } else
    check(
      plausible(spans.consumer, expected.jobs, expected.handlerSpans.ratio),
      `${spans.consumer} handler spans, expected about ${expected.jobs * expected.handlerSpans.ratio}`,
    );
  return problems;
}

/** Throws when `observed` is not what `expected` implies (a short count may be the batch processor's queue of 2,048 overflowing). */
export function assertTelemetry(observed: ObservedTelemetry, expected: ExpectedTelemetry): void {
  const problems = telemetryMismatches(observed, expected);
  if (problems.length > 0)
    throw new Error(
      `Telemetry did not report what the set-up implies (spans fewer than expected can be the batch span processor dropping past its queue of 2,048): ${problems.join("; ")}`,
    );
}
