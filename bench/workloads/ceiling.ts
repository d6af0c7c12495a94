import { performance } from "node:perf_hooks";
import { Queue, runWorker } from "../../src/index.js";
import type { Args } from "../lib/args.js";
import { LatencyRecorder } from "../lib/latency.js";
import { payloadStamp, timedPayload } from "../lib/payload.js";
import { sleep } from "../lib/process.js";
import { type BenchResult, paramsOf, peakRssMb } from "../lib/result.js";
import { createBenchStore, resetTraffic, type StoreKind, trafficOf } from "../lib/stores.js";
import { WindowSeries } from "../lib/windows.js";
import { flushMsArg, openOptions, type Workload } from "../lib/workload.js";

export interface CeilingParams {
  seconds: number;
  /** Seconds at the start that are not measured (warm-up: JIT, first batches). */
  warmupSeconds: number;
  producers: number;
  /** Jobs per enqueue call (1 = `enqueue`, more = `enqueueBatch`). */
  batch: number;
  workers: number;
  payloadBytes: number;
  /** Producers pause while this many jobs wait, so the rate measured is one the workers sustain. */
  maxBacklog: number;
  /** Group-commit window; default the library's. */
  flushMs?: number;
}

const QUEUE = "ceiling";

/**
 * Saturating closed-loop producers (each awaits its durable enqueue, then
 * sends the next) and `runWorker` with a no-op handler. The sustained rate is
 * the completion rate after warm-up; producers stop at a backlog cap so a
 * run cannot report enqueues the workers never keep up with.
 */
export const ceiling: Workload<CeilingParams> = {
  name: "ceiling",
  describe: "saturating producers and workers: the maximum sustained jobs/s",
  params: (args: Args) => ({
    seconds: args.number("seconds", 10),
    warmupSeconds: args.number("warmup", 2),
    producers: args.integer("producers", 64, 1),
    batch: args.integer("batch", 1, 1),
    workers: args.integer("workers", 256, 1),
    payloadBytes: args.integer("payload", 64, 0),
    maxBacklog: args.integer("max-backlog", 20_000, 1),
    flushMs: flushMsArg(args),
  }),
  async run(kind: StoreKind, params: CeilingParams): Promise<BenchResult[]> {
    const bench = await createBenchStore(kind);
    try {
      const queue = await Queue.open(bench.store, "bench/ceiling", openOptions(params.flushMs));
      const start = performance.now();
      const series = new WindowSeries(1_000, start);
      const measureFrom = start + params.warmupSeconds * 1_000;
      const measureTo = start + params.seconds * 1_000;
      const e2e = new LatencyRecorder();
      let enqueued = 0;
      let done = 0;
      let doneMeasured = 0;
      let enqueuedMeasured = 0;
      let running = true;
      let trafficReset = false;

      const producer = async (): Promise<void> => {
        while (running) {
          if (enqueued - done >= params.maxBacklog) {
            await sleep(1);
            continue;
          }
          const payloads = Array.from({ length: params.batch }, () =>
            timedPayload(params.payloadBytes),
          );
          if (params.batch === 1) await queue.enqueue(QUEUE, payloads[0] as Uint8Array);
          else await queue.enqueueBatch(QUEUE, payloads);
          const now = performance.now();
          enqueued += params.batch;
          series.at(now).enqueued += params.batch;
          if (now >= measureFrom && now < measureTo) enqueuedMeasured += params.batch;
        }
      };
      const controller = new AbortController();
      const worker = runWorker(
        queue,
        QUEUE,
        (job) => {
          const now = performance.now();
          done++;
          const window = series.at(now);
          window.done++;
          const stamp = payloadStamp(job.payload);
          if (stamp !== undefined) window.e2e.record(now - stamp);
          if (now >= measureFrom && now < measureTo) {
            if (!trafficReset) {
              resetTraffic(bench);
              trafficReset = true;
            }
            doneMeasured++;
            if (stamp !== undefined) e2e.record(now - stamp);
          }
        },
        { concurrency: params.workers, signal: controller.signal },
      );
      const producers = Array.from({ length: params.producers }, producer);
      await sleep(params.seconds * 1_000);
      running = false;
      const traffic = trafficOf(bench, doneMeasured);
      await Promise.all(producers);
      controller.abort();
      await worker;
      await queue.close();

      const measuredSeconds = params.seconds - params.warmupSeconds;
      const rows = series.rows();
      return [
        {
          workload: "ceiling",
          target: kind,
          params: paramsOf(params),
          jobs: doneMeasured,
          seconds: measuredSeconds,
          jobsPerSec: doneMeasured / measuredSeconds,
          latencyKind: "enqueue call → handler start",
          latency: e2e.summary(),
          traffic,
          peakRssMb: peakRssMb(),
          metrics: {
            enqueuedPerSec: enqueuedMeasured / measuredSeconds,
            backlogEnd: enqueued - done,
            backlogMax: Math.max(0, ...rows.map((r) => r.backlog ?? 0)),
          },
          windows: rows,
        },
      ];
    } finally {
      await bench.cleanup();
    }
  },
};
