/**
 * The `op_slices` workload: how long the synchronous steps of the operator
 * calls take with N live jobs — one page of `listJobs`, one slice of
 * `removeJobs` that scans without removing, one slice of `removeJobs` and
 * of `requeueDeadJobs` that act on their most jobs (256). Each step is timed
 * from the call to its return (the first slice runs inside the call; the
 * rest run one per turn of the event loop and cost the same). Reported as
 * min / median / max over the repetitions; the median is the step's cost,
 * the max what a loaded machine made of it.
 */
import { performance } from "node:perf_hooks";
import { Queue, silentLogger } from "../../src/index.js";
import type { Args } from "../lib/args.js";
import { type BenchResult, paramsOf, peakRssMb } from "../lib/result.js";
import { createBenchStore, type StoreKind } from "../lib/stores.js";
import type { Workload } from "../lib/workload.js";

export interface OpSlicesParams {
  live: number;
  repeats: number;
}

const LIVE = "live";

function summary(samples: number[]): { min: number; median: number; max: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  return { min: sorted[0]!, median: sorted[sorted.length >> 1]!, max: sorted.at(-1)! };
}

export const opSlices: Workload<OpSlicesParams> = {
  name: "op_slices",
  describe: "synchronous step of listJobs, removeJobs and requeueDeadJobs with N live jobs",
  params: (args: Args) => ({
    live: args.integer("live", 1_000_000, 0),
    repeats: args.integer("repeats", 20, 1),
  }),
  async run(kind: StoreKind, params: OpSlicesParams): Promise<BenchResult[]> {
    const bench = await createBenchStore(kind);
    try {
      const queue = await Queue.open(bench.store, "bench/op-slices", {
        logger: silentLogger,
        defaultQueueConfig: { maxAttempts: 1 },
      });
      const payload = new Uint8Array(64);
      let sent = 0;
      await Promise.all(
        Array.from({ length: 8 }, async () => {
          while (sent < params.live) {
            const n = Math.min(1_000, params.live - sent);
            sent += n;
            await queue.enqueueBatch(
              LIVE,
              Array.from({ length: n }, () => payload),
            );
          }
        }),
      );
      const timed = async (run: () => Promise<unknown>, into: number[]): Promise<void> => {
        const t0 = performance.now();
        const pending = run();
        into.push(performance.now() - t0);
        await pending;
      };
      const scan: number[] = [];
      const list: number[] = [];
      const remove: number[] = [];
      const requeue: number[] = [];
      const started = performance.now();
      for (let r = 0; r < params.repeats; r++) {
        await timed(() => queue.listJobs(LIVE, "pending", { limit: 1_000 }), list);
        await timed(
          () => queue.removeJobs(LIVE, "pending", { olderThanMs: 1_000 * 3_600_000 }),
          scan,
        );
        await queue.enqueueBatch(
          "removed",
          Array.from({ length: 512 }, () => payload),
        );
        await timed(() => queue.removeJobs("removed", "pending"), remove);
        await queue.enqueueBatch(
          "dead",
          Array.from({ length: 512 }, () => payload),
        );
        const claims = await queue.claimBatch("dead", 512);
        await Promise.all(claims.map((c) => queue.deadLetter(c, "bench")));
        await timed(() => queue.requeueDeadJobs("dead"), requeue);
        await queue.removeJobs("dead", "pending");
      }
      const seconds = (performance.now() - started) / 1_000;
      await queue.close();
      const metrics: Record<string, number> = {};
      for (const [name, samples] of [
        ["listJobsPage", list],
        ["removeScanSlice", scan],
        ["removeSlice", remove],
        ["requeueSlice", requeue],
      ] as const) {
        const s = summary(samples);
        metrics[`${name}MinMs`] = s.min;
        metrics[`${name}MedianMs`] = s.median;
        metrics[`${name}MaxMs`] = s.max;
      }
      const all = summary([...list, ...scan, ...remove, ...requeue]);
      return [
        {
          workload: "op_slices",
          target: kind,
          params: paramsOf(params),
          jobs: params.live,
          seconds,
          jobsPerSec: 0,
          latencyKind: "synchronous step",
          latency: {
            count: 4 * params.repeats,
            mean: 0,
            p50: all.median,
            p95: all.max,
            p99: all.max,
            max: all.max,
          },
          peakRssMb: peakRssMb(),
          metrics,
        },
      ];
    } finally {
      await bench.cleanup();
    }
  },
};
