import { performance } from "node:perf_hooks";
import { Queue, runWorker } from "../../src/index.js";
import type { Args } from "../lib/args.js";
import {
  type EndToEndParams,
  endToEndMetrics,
  endToEndParams,
  enqueueLatencyKind,
  enqueuePhase,
} from "../lib/e2e.js";
import { LatencyRecorder } from "../lib/latency.js";
import { type BenchResult, paramsOf, peakRssMb } from "../lib/result.js";
import { createBenchStore, resetTraffic, type StoreKind, trafficOf } from "../lib/stores.js";
import { openOptions, type Workload } from "../lib/workload.js";

const QUEUE = "e2e";

const cpuMicros = (usage: NodeJS.CpuUsage): number => usage.user + usage.system;

/** The comparison workload (same as the peers run): enqueue N in batches, process with C. */
export const endToEnd: Workload<EndToEndParams> = {
  name: "end_to_end",
  describe:
    "enqueue N in batches (or one per call from --producers=P), then process with concurrency C (the peer comparison workload)",
  params: (args: Args) => endToEndParams(args),
  async run(kind: StoreKind, params: EndToEndParams): Promise<BenchResult[]> {
    const bench = await createBenchStore(kind);
    try {
      const queue = await Queue.open(bench.store, "bench/end-to-end", openOptions(params.flushMs));
      resetTraffic(bench);
      const payload = new Uint8Array(params.payloadBytes).fill(0x61);
      const batchLatency = new LatencyRecorder();
      const enqueueCpu0 = process.cpuUsage();
      const enqueueStart = performance.now();
      await enqueuePhase(
        params,
        {
          one: () => queue.enqueue(QUEUE, payload),
          many: (n) =>
            queue.enqueueBatch(
              QUEUE,
              Array.from({ length: n }, () => payload),
            ),
        },
        batchLatency,
      );
      const enqueueCpu = process.cpuUsage(enqueueCpu0);
      const processCpu0 = process.cpuUsage();
      const processStart = performance.now();
      let handled = 0;
      const controller = new AbortController();
      await runWorker(
        queue,
        QUEUE,
        () => {
          if (++handled === params.jobs) controller.abort();
        },
        { concurrency: params.concurrency, prefetch: params.prefetch, signal: controller.signal },
      );
      // runWorker resolves once in-flight jobs are settled; flush proves the acks are durable.
      await queue.flush();
      const end = performance.now();
      const processCpu = process.cpuUsage(processCpu0);
      const traffic = trafficOf(bench, params.jobs);
      await queue.close();
      const enqueueSeconds = (processStart - enqueueStart) / 1_000;
      const processSeconds = (end - processStart) / 1_000;
      return [
        {
          workload: "end_to_end",
          // A run with claims held ready is its own row in the comparison.
          target: params.prefetch > 0 ? `${kind} prefetch=${params.prefetch}` : kind,
          params: paramsOf(params),
          jobs: handled,
          seconds: enqueueSeconds + processSeconds,
          jobsPerSec: params.jobs / (enqueueSeconds + processSeconds),
          latencyKind: enqueueLatencyKind(params, "enqueueBatch"),
          latency: batchLatency.summary(),
          traffic,
          peakRssMb: peakRssMb(),
          metrics: {
            ...endToEndMetrics(params, enqueueSeconds, processSeconds),
            // The process's CPU (user + system, all threads) per job in each phase.
            enqueueCpuMicrosPerJob: cpuMicros(enqueueCpu) / params.jobs,
            processCpuMicrosPerJob: cpuMicros(processCpu) / params.jobs,
          },
        },
      ];
    } finally {
      await bench.cleanup();
    }
  },
};
