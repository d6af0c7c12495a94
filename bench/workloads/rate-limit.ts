import { setMaxListeners } from "node:events";
import { performance } from "node:perf_hooks";
import { Queue, runWorker, silentLogger } from "../../src/index.js";
import type { Args } from "../lib/args.js";
import { LatencyRecorder } from "../lib/latency.js";
import { type BenchResult, paramsOf, peakRssMb } from "../lib/result.js";
import { createBenchStore, resetTraffic, type StoreKind, trafficOf } from "../lib/stores.js";
import type { Workload } from "../lib/workload.js";

export interface RateLimitParams {
  /** Claims allowed per window. */
  max: number;
  /** Window length (ms). */
  perMs: number;
  /** How long the workers run. */
  seconds: number;
  /** `runWorker` loops sharing the limit, each with `concurrency` handlers. */
  workers: number;
  concurrency: number;
}

const QUEUE = "limited";

/** Most claims (by `claimedAt`) in any window of `perMs`. */
function busiestWindow(times: readonly number[], perMs: number): number {
  let most = 0;
  for (let lo = 0, hi = 0; hi < times.length; hi++) {
    while (times[hi]! - times[lo]! >= perMs) lo++;
    most = Math.max(most, hi - lo + 1);
  }
  return most;
}

/**
 * A rate-limited queue with more work queued than the limit lets through:
 * `workers` runWorker loops claim from it for `seconds`. Reports the rate
 * achieved against the limit, the busiest window (never above `max`), and
 * the gaps between successive claims.
 */
export const rateLimit: Workload<RateLimitParams> = {
  name: "rate_limit",
  describe: "claims under QueueConfig.rateLimit: achieved rate vs the limit, busiest window",
  params: (args: Args) => ({
    max: args.integer("max", 500, 1),
    perMs: args.integer("per-ms", 1_000, 1),
    seconds: args.number("seconds", 5),
    workers: args.integer("workers", 8, 1),
    concurrency: args.integer("concurrency", 16, 1),
  }),
  async run(kind: StoreKind, params: RateLimitParams): Promise<BenchResult[]> {
    const bench = await createBenchStore(kind);
    try {
      const queue = await Queue.open(bench.store, "bench/rate", {
        logger: silentLogger,
        queueConfigs: { [QUEUE]: { rateLimit: { max: params.max, perMs: params.perMs } } },
      });
      const backlog = Math.ceil((params.max * params.seconds * 1_000) / params.perMs) * 2 + 100;
      for (let i = 0; i < backlog; i += 1_000)
        await queue.enqueueBatch(
          QUEUE,
          Array.from({ length: Math.min(1_000, backlog - i) }, () => "x"),
        );
      resetTraffic(bench);
      const claimedAt: number[] = [];
      const stop = new AbortController();
      setMaxListeners(params.workers * 4, stop.signal);
      const start = performance.now();
      const workers = Array.from({ length: params.workers }, () =>
        runWorker(
          queue,
          QUEUE,
          (job) => {
            claimedAt.push(job.claimedAt ?? Date.now());
          },
          { concurrency: params.concurrency, signal: stop.signal },
        ),
      );
      await new Promise((resolve) => setTimeout(resolve, params.seconds * 1_000));
      stop.abort();
      await Promise.all(workers);
      const seconds = (performance.now() - start) / 1_000;
      await queue.close();
      claimedAt.sort((a, b) => a - b);
      const gaps = new LatencyRecorder();
      for (let i = 1; i < claimedAt.length; i++) gaps.record(claimedAt[i]! - claimedAt[i - 1]!);
      const limitPerSec = (params.max * 1_000) / params.perMs;
      return [
        {
          workload: "rate_limit",
          target: kind,
          params: paramsOf(params),
          jobs: claimedAt.length,
          seconds,
          jobsPerSec: claimedAt.length / seconds,
          latencyKind: "gap between successive claims",
          latency: gaps.summary(),
          traffic: trafficOf(bench, claimedAt.length),
          peakRssMb: peakRssMb(),
          metrics: {
            limitPerSec,
            achievedPerSec: claimedAt.length / seconds,
            achievedShare: claimedAt.length / seconds / limitPerSec,
            busiestWindowClaims: busiestWindow(claimedAt, params.perMs),
            windowMax: params.max,
          },
        },
      ];
    } finally {
      await bench.cleanup();
    }
  },
};
