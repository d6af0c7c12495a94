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
  /** Per queue: the last cumulative `done` count seen (reader sources). */
  readonly #lastDone = new Map<string, number>();

  constructor(bucketMs: number, size: number) {
    this.bucketMs = bucketMs;
    this.#size = size;
  }

  #bucket(queue: string, at: number): Bucket {
    const start = at - (at % this.bucketMs);
    let buckets = this.#queues.get(queue);
    if (buckets === undefined) {
      buckets = new Map();
      this.#queues.set(queue, buckets);
    }
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
  }

  /**
   * Record the depth of each queue at `at`. With `fromDone`, completions are
   * derived from the growth of the cumulative `done` counter since the last
   * sample (how a read-only dashboard sees throughput).
   */
  sample(stats: readonly QueueStats[], at: number, fromDone: boolean): void {
    for (const s of stats) {
      const bucket = this.#bucket(s.queue, at);
      bucket.depth = {
        pending: s.pending,
        claimed: s.claimed,
        scheduled: s.scheduled,
        dead: s.dead,
      };
      if (!fromDone) continue;
      const last = this.#lastDone.get(s.queue);
      if (last !== undefined && s.done > last) bucket.completed += s.done - last;
      this.#lastDone.set(s.queue, s.done);
    }
  }

  /** The window ending at `now` for `queue`, or summed over every queue when `queue` is null. */
  series(queue: string | null, now: number): Series {
    const newest = now - (now % this.bucketMs);
    const buckets: Bucket[] = [];
    const sources =
      queue === null ? [...this.#queues.values()] : [this.#queues.get(queue) ?? new Map()];
    for (let i = this.#size - 1; i >= 0; i--) {
      const start = newest - i * this.bucketMs;
      const sum: Bucket = { start, enqueued: 0, completed: 0, failed: 0 };
      for (const source of sources) {
        const b = source.get(start);
        if (b === undefined) continue;
        sum.enqueued += b.enqueued;
        sum.completed += b.completed;
        sum.failed += b.failed;
        if (b.depth !== undefined) {
          sum.depth ??= { pending: 0, claimed: 0, scheduled: 0, dead: 0 };
          const d = sum.depth;
          d.pending += b.depth.pending;
          d.claimed += b.depth.claimed;
          d.scheduled += b.depth.scheduled;
          d.dead += b.depth.dead;
        }
      }
      buckets.push(sum);
    }
    return { bucketMs: this.bucketMs, buckets };
  }
}
