/**
 * What the dashboard remembers over time, in memory and per dashboard: job
 * throughput per queue in fixed time buckets (from the queue's events when it
 * serves a live `Queue`, or from the growth of the cumulative `done` counter
 * between snapshots when it serves a reader), and the latest depth sample per
 * bucket. Old buckets fall off; nothing is stored.
 */
import type { QueueStats } from "../queue/types.js";

/** One series point: counts in a bucket, and the depth last seen in it. */
export interface Bucket {
  /** Bucket start, ms since the UNIX epoch. */
  start: number;
  enqueued: number;
  completed: number;
  /** Retried and dead-lettered deliveries. */
  failed: number;
  /** Depth last sampled in this bucket, or undefined when none was. */
  depth?: { pending: number; claimed: number; scheduled: number; dead: number };
}

/** Buckets of one queue over the window, oldest first, empty buckets included. */
export interface Series {
  bucketMs: number;
  buckets: Bucket[];
}

type Counted = "enqueued" | "completed" | "failed";

export class History {
  readonly bucketMs: number;
  readonly #size: number;
  /** Per queue: bucket start → bucket. */
  readonly #queues = new Map<string, Map<number, Bucket>>();
  /**
   * Every queue together, kept as the queues' buckets change: the overview's
   * chart reads the window in as many steps as it has buckets, however many
   * queues there are (summing thousands of queues on every page view would
   * hold the event loop).
   */
  readonly #all = new Map<number, Bucket>();
  /** Reads begun so far (see {@link beginRead}). */
  #reads = 0;
  /** The newest read sampled (see {@link sample}). */
  #newestRead = 0;
  /** Per queue: the last cumulative `done` count seen (reader sources). */
  readonly #lastDone = new Map<string, number>();

  constructor(bucketMs: number, size: number) {
    this.bucketMs = bucketMs;
    this.#size = size;
  }

  #bucket(queue: string, at: number): Bucket {
    let buckets = this.#queues.get(queue);
    if (buckets === undefined) {
      buckets = new Map();
      this.#queues.set(queue, buckets);
    }
    return this.#bucketIn(buckets, at);
  }

  #bucketIn(buckets: Map<number, Bucket>, at: number): Bucket {
    const start = at - (at % this.bucketMs);
    let bucket = buckets.get(start);
    if (bucket === undefined) {
      bucket = { start, enqueued: 0, completed: 0, failed: 0 };
      buckets.set(start, bucket);
      this.#prune(buckets, start);
    }
    return bucket;
  }

  #prune(buckets: Map<number, Bucket>, newest: number): void {
    const oldest = newest - (this.#size - 1) * this.bucketMs;
    for (const start of buckets.keys()) if (start < oldest) buckets.delete(start);
  }

  /** Count one job event of `queue` at wall time `at`. */
  count(queue: string, what: Counted, at: number): void {
    this.#bucket(queue, at)[what] += 1;
    this.#bucketIn(this.#all, at)[what] += 1;
  }

  /**
   * Number a read of the queues' stats as it begins, for {@link sample}: each
   * number is greater than all before it. A count rather than a time, since
   * the wall clock may step back.
   */
  beginRead(): number {
    return ++this.#reads;
  }

  /**
   * Record the depth of each queue at `at`. With `fromDone`, completions are
   * derived from the growth of the cumulative `done` counter since the last
   * sample (how a read-only dashboard sees throughput). `stats` holds every
   * queue: their sum is the depth of all queues together. Reads overlap:
   * when a read begun after this one (`read`, numbered by {@link beginRead})
   * was sampled already, this one is left out whole. Its depths are older,
   * and may lack queues created since; its `done` counters are older too
   * (taken as the baseline, the growth since would be counted twice).
   */
  sample(
    stats: readonly QueueStats[],
    at: number,
    fromDone: boolean,
    read = this.beginRead(),
  ): void {
    if (read <= this.#newestRead) return;
    this.#newestRead = read;
    const all = this.#bucketIn(this.#all, at);
    const total = { pending: 0, claimed: 0, scheduled: 0, dead: 0 };
    all.depth = total; // 0 when the read found no queue
    for (const s of stats) {
      total.pending += s.pending;
      total.claimed += s.claimed;
      total.scheduled += s.scheduled;
      total.dead += s.dead;
      const bucket = this.#bucket(s.queue, at);
      bucket.depth = {
        pending: s.pending,
        claimed: s.claimed,
        scheduled: s.scheduled,
        dead: s.dead,
      };
      if (!fromDone) continue;
      const last = this.#lastDone.get(s.queue);
      if (last !== undefined && s.done > last) {
        bucket.completed += s.done - last;
        all.completed += s.done - last;
      }
      this.#lastDone.set(s.queue, s.done);
    }
  }

  /**
   * The window ending at `now` for `queue`, or of every queue together when
   * `queue` is null: their counts summed, and the depth of all queues as the
   * bucket's last sample that counts (see {@link sample}) gave it.
   */
  series(queue: string | null, now: number): Series {
    const newest = now - (now % this.bucketMs);
    const buckets: Bucket[] = [];
    const source = queue === null ? this.#all : this.#queues.get(queue);
    for (let i = this.#size - 1; i >= 0; i--) {
      const start = newest - i * this.bucketMs;
      const b = source?.get(start);
      const copy: Bucket = {
        start,
        enqueued: b?.enqueued ?? 0,
        completed: b?.completed ?? 0,
        failed: b?.failed ?? 0,
      };
      if (b?.depth !== undefined) copy.depth = { ...b.depth };
      buckets.push(copy);
    }
    return { bucketMs: this.bucketMs, buckets };
  }
}
