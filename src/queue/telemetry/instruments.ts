/**
 * The OpenTelemetry instruments of the queue's metrics: their names,
 * descriptions, units and buckets, made once per meter. What they count and
 * when (the commit boundary's steps, and the gauges read at collection) is
 * `metrics.ts`'s.
 */
import type { Counter, Histogram, Meter, Observable } from "@opentelemetry/api";

/** Bucket bounds (seconds) for waits and handler durations: 5 ms to an hour. */
const SECONDS_BUCKETS = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600,
];

/** The life-cycle steps counted (as `lifecycleOf` names them), one counter each. */
export type StepKind =
  | "enqueued"
  | "claimed"
  | "completed"
  | "retried"
  | "dead"
  | "expired"
  | "cancelled"
  | "released";
export const STEP_KINDS: readonly StepKind[] = [
  "enqueued",
  "claimed",
  "completed",
  "retried",
  "dead",
  "expired",
  "cancelled",
  "released",
];

/** The instruments of one `QueueMetrics`. */
export interface Instruments {
  /** One counter per life-cycle step. */
  readonly counters: Record<StepKind, Counter>;
  /** Time from enqueue to claim. */
  readonly wait: Histogram;
  /** Time from claim to settlement, by outcome. */
  readonly duration: Histogram;
  /**
   * The gauges and observable counters read at collection, in this order:
   * depth, oldest pending age, store requests, store bytes, request cost,
   * log epoch, WAL backlog, checkpoint age.
   */
  readonly observables: Observable[];
}

/** Makes the metrics' instruments on `meter`. */
export function createInstruments(meter: Meter): Instruments {
  const jobs = (name: string, description: string): Counter =>
    meter.createCounter(`taquba.jobs.${name}`, { description, unit: "{job}" });
  const counters: Record<StepKind, Counter> = {
    enqueued: jobs("enqueued", "Jobs enqueued (durable)"),
    claimed: jobs("claimed", "Claims handed out (each attempt counts)"),
    completed: jobs("completed", "Claimed jobs acked"),
    retried: jobs("retried", "Failed deliveries requeued for another attempt"),
    dead: jobs("dead_lettered", "Jobs that became dead"),
    expired: jobs("expired", "Claims whose lease ran out before they were settled"),
    cancelled: jobs("cancelled", "Jobs removed by cancel"),
    released: jobs("released", "Claims given back before a handler ran (attempt not counted)"),
  };
  const advice = { explicitBucketBoundaries: SECONDS_BUCKETS };
  const wait = meter.createHistogram("taquba.job.wait", {
    description: "Time from enqueue to claim",
    unit: "s",
    advice,
  });
  const duration = meter.createHistogram("taquba.job.duration", {
    description: "Time from claim to settlement, by outcome",
    unit: "s",
    advice,
  });
  const observables = [
    meter.createObservableGauge("taquba.queue.depth", {
      description: "Jobs in the queue by state",
      unit: "{job}",
    }),
    meter.createObservableGauge("taquba.queue.oldest_pending_age", {
      description: "Age of the oldest pending job (since its enqueue); 0 when none is pending",
      unit: "s",
    }),
    meter.createObservableCounter("taquba.store.requests", {
      description: "Requests made to the object store, by kind",
      unit: "{request}",
    }),
    meter.createObservableCounter("taquba.store.bytes", {
      description: "Bytes sent (put) to and received (get) from the object store",
      unit: "By",
    }),
    meter.createObservableCounter("taquba.store.request_cost", {
      description: "Estimated cost of the store requests, by kind (default: S3 Standard, USD)",
      unit: "USD",
    }),
    meter.createObservableGauge("taquba.log.epoch", {
      description: "Writer epoch: how many writers have opened the store",
    }),
    meter.createObservableGauge("taquba.log.wal_backlog", {
      description: "WAL bytes written since the last checkpoint (what a reopen replays)",
      unit: "By",
    }),
    meter.createObservableGauge("taquba.log.checkpoint_age", {
      description:
        "Time since the store's newest checkpoint was written (the one opened from, until this writer writes one)",
      unit: "s",
    }),
  ];
  return { counters, wait, duration, observables };
}
