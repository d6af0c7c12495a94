/**
 * The queue's OpenTelemetry metrics. Job counters and the wait and duration
 * histograms observe the commit boundary (each durable transition counts
 * once, as its record says). The counters cost no SDK call per job: steps are
 * counted in plain numbers per queue, and the counts are added to the SDK's
 * counters when it collects (and when the queue closes), so a collection sees
 * every durable step exactly. Enqueues, most of the traffic, come counted
 * by queue from the commit boundary (or are counted from their records);
 * plain claims and acks come as their queues and times (or are counted from
 * their transitions); the other steps are counted from their transitions,
 * with no object made per job. Waits and durations are measured to the
 * step's own recorded time (a claim's, an ack's, a retry's or a
 * dead-letter's; the commit's for an old record without one), whichever way
 * they come. Histograms record every value, with attribute objects made
 * once per queue (and outcome); the values of claims and acks kept as times
 * are recorded right after the log sends its next batch, while that write
 * is in flight (and before any collection). Gauges of queue depth and oldest pending age,
 * the store's request counters and the log's backlog are read from the live
 * state when the SDK collects. The instruments themselves (names, units,
 * buckets) are made in `instruments.ts`.
 */
import type {
  Attributes,
  BatchObservableResult,
  Counter,
  Histogram,
  Meter,
  Observable,
} from "@opentelemetry/api";
import type { LogStats } from "../../log/index.js";
import { costsOf, type RequestPrices } from "../../store/request-prices.js";
import type { RequestCounts } from "../../store/wrappers/counting.js";
import type { StoreOp } from "../../store/wrappers/ops.js";
import type { ClaimAckTimes, CommitObserver, EnqueueCounts } from "../observe.js";
import { Tag } from "../records/tags.js";
import type { JobBefore, Transition } from "../transition.js";
import type { QueueStats } from "../types.js";
import { createInstruments, STEP_KINDS, type StepKind } from "./instruments.js";

/** What the gauges read when the SDK collects. */
export interface MetricsSource {
  /** The queue store's path (the `path` attribute of every series). */
  readonly path: string;
  now(): number;
  queues(): QueueStats[];
  /** `enqueuedAt` of the oldest pending job of `queue`, or undefined when none is pending. */
  oldestPendingEnqueuedAt(queue: string): number | undefined;
  requests(): RequestCounts;
  logStats(): LogStats;
  /** Calls `callback` once, right after the log next sends a batch to the store (see `Log.afterSend`). */
  afterLogSend(callback: () => void): void;
}

const DEPTH_STATES = ["pending", "scheduled", "claimed", "dead"] as const;
const STORE_OPS: readonly StoreOp[] = ["get", "put", "delete", "list", "head"];
/** The `queue` attribute of metrics that cover every queue of the store. */
export const ALL_QUEUES = "*";

type Outcome = "completed" | "retried" | "dead_lettered" | "expired";

/** Steps of one queue counted since the SDK last collected, and its attributes. */
interface Tally {
  readonly queue: string;
  /** `{ queue, path }`, made once: recording allocates nothing. */
  readonly attributes: Attributes;
  /** `{ queue, path, outcome }` of the duration histogram, made once. */
  readonly outcomes: Readonly<Record<Outcome, Attributes>>;
  /** `{ queue, path, state }` of the depth gauge, made once. */
  readonly depths: Readonly<Record<(typeof DEPTH_STATES)[number], Attributes>>;
  readonly counts: Record<StepKind, number>;
  /** Whether any count is above zero. */
  dirty: boolean;
}

export class QueueMetrics implements CommitObserver {
  readonly #meter: Meter;
  readonly #source: MetricsSource;
  readonly #prices: RequestPrices;
  /** The counter of each life-cycle step. */
  readonly #counters: Record<StepKind, Counter>;
  readonly #wait: Histogram;
  readonly #duration: Histogram;
  readonly #observables: Observable[];
  readonly #callback = (result: BatchObservableResult): void => this.#collect(result);
  /** Steps not yet added to the SDK's counters, by queue. */
  readonly #tallies = new Map<string, Tally>();
  /** Claim and ack times of durable batches whose waits and durations are not yet recorded, in commit order. */
  #unrecorded: ClaimAckTimes[] = [];
  /** Whether a recording of {@link #unrecorded} waits for the log's next send. */
  #recordingAsked = false;
  readonly #recordLater = (): void => {
    this.#recordingAsked = false;
    this.#recordTimes();
  };

  constructor(meter: Meter, source: MetricsSource, prices: RequestPrices) {
    this.#meter = meter;
    this.#source = source;
    this.#prices = prices;
    const instruments = createInstruments(meter);
    this.#counters = instruments.counters;
    this.#wait = instruments.wait;
    this.#duration = instruments.duration;
    this.#observables = instruments.observables;
    meter.addBatchObservableCallback(this.#callback, this.#observables);
  }

  /** Enqueues need no transition each: the commit boundary may count them by queue. */
  readonly eachEnqueue = false;
  /** Plain claims and acks need no transition each: the commit boundary may keep their times. */
  readonly eachClaimAndAck = false;

  committed(
    transitions: readonly Transition[],
    enqueued: EnqueueCounts | undefined,
    times: ClaimAckTimes | undefined,
  ): void {
    // Enqueues (most transitions) come counted by queue from the commit
    // boundary, or are counted here from their records; claims and acks
    // (most of the rest) come as their times, or are counted from their
    // transitions. Every other step is counted straight from its transition,
    // as `lifecycleOf` would make it, without a step object per job.
    let last: Tally | undefined;
    if (enqueued !== undefined)
      for (const [queue, n] of enqueued.byQueue()) {
        last = this.#tallyOf(queue);
        last.counts.enqueued += n;
        last.dirty = true;
      }
    if (times !== undefined) last = this.#countTimes(times, last);
    for (const transition of transitions) {
      const record = transition.record;
      const queue =
        record.tag === Tag.Enqueue
          ? record.queue
          : record.tag === Tag.ScheduleFire
            ? record.job?.queue
            : undefined;
      if (queue !== undefined) {
        if (last === undefined || last.queue !== queue) last = this.#tallyOf(queue);
        last.counts.enqueued++;
        last.dirty = true;
        continue;
      }
      const job = transition.job;
      if (job === undefined) continue;
      if (last === undefined || last.queue !== job.queue) last = this.#tallyOf(job.queue);
      this.#countStep(last, transition, job);
    }
  }

  /**
   * Counts the claims and acks kept as times, and records their waits and
   * durations, as {@link #countStep} does from their transitions. Returns
   * the tally last used. (Claims and acks in methods of their own: the
   * first batches of a process are mostly claims, and code optimized for
   * those alone would be thrown away at the first acks.)
   */
  #countTimes(times: ClaimAckTimes, last: Tally | undefined): Tally | undefined {
    if (times.claimQueues.length > 0) last = this.#countEach(times.claimQueues, "claimed", last);
    if (times.ackQueues.length > 0) last = this.#countEach(times.ackQueues, "completed", last);
    // Their waits and durations (the SDK's `record`, ~0.4–0.8 µs a value,
    // nearly all of it hashing the attributes) are recorded once the log
    // has sent what the woken producers and workers append next: while that
    // write is in flight, not between this batch's end and its start.
    this.#unrecorded.push(times);
    if (!this.#recordingAsked) {
      this.#recordingAsked = true;
      this.#source.afterLogSend(this.#recordLater);
    }
    return last;
  }

  /** Counts one `step` for each queue of `queues` (a batch's claims or acks, in order). */
  #countEach(
    queues: string[],
    step: "claimed" | "completed",
    last: Tally | undefined,
  ): Tally | undefined {
    for (let i = 0; i < queues.length; i++) {
      const queue = queues[i]!;
      if (last === undefined || last.queue !== queue) last = this.#tallyOf(queue);
      last.counts[step]++;
      last.dirty = true;
    }
    return last;
  }

  /** Records the waits and durations of the claims and acks counted but not yet recorded. */
  #recordTimes(): void {
    const batches = this.#unrecorded;
    if (batches.length === 0) return;
    this.#unrecorded = [];
    let last: Tally | undefined;
    for (const { claimQueues, waitsMs, ackQueues, durationsMs } of batches) {
      for (let i = 0; i < claimQueues.length; i++) {
        const queue = claimQueues[i]!;
        if (last === undefined || last.queue !== queue) last = this.#tallyOf(queue);
        this.#wait.record(seconds(waitsMs[i]!), last.attributes);
      }
      for (let i = 0; i < ackQueues.length; i++) {
        const queue = ackQueues[i]!;
        if (last === undefined || last.queue !== queue) last = this.#tallyOf(queue);
        this.#duration.record(seconds(durationsMs[i]!), last.outcomes.completed);
      }
    }
  }

  /**
   * Counts the steps of one transition on a job (not an enqueue), as
   * `lifecycleOf` makes them: a lease expiry is an `expired` step (its
   * duration recorded as "expired") followed by its outcome, whose own
   * duration is then not recorded again.
   */
  #countStep(tally: Tally, transition: Transition, job: JobBefore): void {
    const record = transition.record;
    // Measured to the record's own time (as claims and acks kept as times
    // are), or to the commit's for a record without one (an old release's retry).
    const at = "at" in record ? (record.at ?? transition.at) : transition.at;
    const counts = tally.counts;
    const { claimedAt } = job;
    const expired = transition.cause === "lease_expired" && job.status === "claimed";
    if (expired) {
      counts.expired++;
      tally.dirty = true;
      this.#recordDuration(tally.outcomes.expired, at, claimedAt);
    }
    switch (record.tag) {
      case Tag.Claim:
        counts.claimed++;
        this.#wait.record(seconds(at - job.enqueuedAt), tally.attributes);
        break;
      case Tag.Ack:
        counts.completed++;
        this.#recordDuration(tally.outcomes.completed, at, claimedAt);
        break;
      case Tag.Retry:
        counts.retried++;
        if (!expired) this.#recordDuration(tally.outcomes.retried, at, claimedAt);
        break;
      case Tag.Dead:
        counts.dead++;
        if (!expired) this.#recordDuration(tally.outcomes.dead_lettered, at, claimedAt);
        break;
      case Tag.Cancel:
        counts.cancelled++;
        break;
      case Tag.Release:
        counts.released++;
        break;
      default:
        return;
    }
    tally.dirty = true;
  }

  /**
   * Adds the steps counted since the last call to the SDK's counters (one
   * `add` per queue and kind), and records the waits and durations not yet
   * recorded.
   */
  #flush(): void {
    for (const tally of this.#tallies.values()) {
      if (!tally.dirty) continue;
      tally.dirty = false;
      for (const kind of STEP_KINDS) {
        const n = tally.counts[kind];
        if (n === 0) continue;
        tally.counts[kind] = 0;
        this.#counters[kind].add(n, tally.attributes);
      }
    }
    this.#recordTimes();
  }

  /**
   * Stop observing (the queue closed); the steps counted so far reach the
   * counters. The callback goes: no collection reads this queue again (a
   * cumulative reader of the SDK still repeats the last values it saw, which
   * no observation can take back; the README says so).
   */
  close(): void {
    try {
      this.#flush();
    } finally {
      this.#meter.removeBatchObservableCallback(this.#callback, this.#observables);
    }
  }

  #recordDuration(attributes: Attributes, at: number, claimedAt: number | undefined): void {
    if (claimedAt === undefined) return;
    this.#duration.record(seconds(at - claimedAt), attributes);
  }

  #tallyOf(queue: string): Tally {
    let tally = this.#tallies.get(queue);
    if (tally === undefined) {
      // Every series carries the store's `path`: two queue stores of one process
      // may each have a queue of the same name, and their series must not merge.
      const path = this.#source.path;
      tally = {
        queue,
        attributes: Object.freeze({ queue, path }),
        outcomes: {
          completed: Object.freeze({ queue, path, outcome: "completed" }),
          retried: Object.freeze({ queue, path, outcome: "retried" }),
          dead_lettered: Object.freeze({ queue, path, outcome: "dead_lettered" }),
          expired: Object.freeze({ queue, path, outcome: "expired" }),
        },
        depths: {
          pending: Object.freeze({ queue, path, state: "pending" }),
          scheduled: Object.freeze({ queue, path, state: "scheduled" }),
          claimed: Object.freeze({ queue, path, state: "claimed" }),
          dead: Object.freeze({ queue, path, state: "dead" }),
        },
        counts: {
          enqueued: 0,
          claimed: 0,
          completed: 0,
          retried: 0,
          dead: 0,
          expired: 0,
          cancelled: 0,
          released: 0,
        },
        dirty: false,
      };
      this.#tallies.set(queue, tally);
    }
    return tally;
  }

  #collect(result: BatchObservableResult): void {
    // The SDK calls observable callbacks before it reads its synchronous
    // instruments: counts added here are in this very collection.
    this.#flush();
    const [depth, oldest, requests, bytes, cost, epoch, backlog, checkpointAge] = this
      .#observables as [Observable, ...Observable[]];
    const source = this.#source;
    const now = source.now();
    for (const stats of source.queues()) {
      const tally = this.#tallyOf(stats.queue);
      for (const state of DEPTH_STATES) result.observe(depth, stats[state], tally.depths[state]);
      // 0 for a queue with nothing pending, not no point: the SDK keeps reporting the last
      // value of an attribute set no longer observed, which would freeze a drained queue's age.
      const enqueuedAt = source.oldestPendingEnqueuedAt(stats.queue);
      const age = enqueuedAt === undefined ? 0 : seconds(Math.max(0, now - enqueuedAt));
      result.observe(oldest!, age, tally.attributes);
    }
    // Store and log metrics belong to the whole queue store, not to one named queue: their
    // `queue` attribute is "*" (all queues of the store at `path`).
    const path = source.path;
    const queue = ALL_QUEUES;
    const counts = source.requests();
    const costs = costsOf(counts.counts, this.#prices);
    for (const kind of STORE_OPS) {
      result.observe(requests!, counts.counts[kind], { queue, path, kind });
      result.observe(cost!, costs[kind], { queue, path, kind });
    }
    result.observe(bytes!, counts.bytesRead, { queue, path, kind: "get" });
    result.observe(bytes!, counts.bytesWritten, { queue, path, kind: "put" });
    const log = source.logStats();
    result.observe(epoch!, log.epoch, { queue, path });
    result.observe(backlog!, log.walBytesSinceCheckpoint, { queue, path });
    if (log.lastCheckpointAt !== null)
      result.observe(checkpointAge!, seconds(Math.max(0, now - log.lastCheckpointAt)), {
        queue,
        path,
      });
  }
}

function seconds(ms: number): number {
  return ms / 1_000;
}
