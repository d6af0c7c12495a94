import { performance } from "node:perf_hooks";
import { context } from "@opentelemetry/api";
import { Queue } from "../../src/index.js";
import type { Args } from "../lib/args.js";
import { LatencyRecorder } from "../lib/latency.js";
import { requestContexts } from "../lib/request-contexts.js";
import { type BenchResult, paramsOf, peakRssMb } from "../lib/result.js";
import { createBenchStore, resetTraffic, type StoreKind, trafficOf } from "../lib/stores.js";
import { benchTelemetry, type TelemetryParams, telemetryParams } from "../lib/telemetry.js";
import { flushMsArg, openOptions, type Workload } from "../lib/workload.js";

export interface SingleEnqueueParams extends TelemetryParams {
  jobs: number;
  /** Closed-loop producers, each awaiting its own `enqueue` before sending the next. */
  producers: number;
  payloadBytes: number;
  /** Jobs enqueued before the measured phase (JIT warm-up), into another queue. */
  warmup: number;
  flushMs?: number;
}

const QUEUE = "single";

/**
 * CPU per job on the enqueue path: P producers each await their own durable
 * `enqueue` (the web-request pattern), N jobs in all. Reports the rate and the
 * process's CPU time per enqueued job, which stays meaningful when the rate is
 * capped by waiting (a group-commit window) rather than by CPU.
 */
export const singleEnqueue: Workload<SingleEnqueueParams> = {
  name: "single_enqueue",
  describe: "P producers each awaiting its own enqueue: enqueue/s and CPU µs per job",
  params: (args: Args) => ({
    jobs: args.integer("jobs", 200_000, 1),
    producers: args.integer("producers", 64, 1),
    payloadBytes: args.integer("payload", 64, 0),
    warmup: args.integer("warmup", 20_000, 0),
    flushMs: flushMsArg(args),
    ...telemetryParams(args),
  }),
  async run(kind: StoreKind, params: SingleEnqueueParams): Promise<BenchResult[]> {
    const bench = await createBenchStore(kind);
    const requests = requestContexts(params.requests, params.requestSpans);
    try {
      const otel = benchTelemetry(params.telemetry, params.traceSample, params.requireParent);
      const queue = await Queue.open(bench.store, "bench/single-enqueue", {
        ...openOptions(params.flushMs),
        ...(otel.telemetry === undefined ? {} : { telemetry: otel.telemetry }),
      });
      const payload = new Uint8Array(params.payloadBytes).fill(0x61);
      let sentAll = 0;
      const produce = async (name: string, count: number, latency?: LatencyRecorder) => {
        let sent = 0;
        const producer = async (): Promise<void> => {
          while (sent < count) {
            sent++;
            const t0 = performance.now();
            if (requests === undefined) await queue.enqueue(name, payload);
            else if (params.requestSpans)
              await requests.serve(sentAll++, () => queue.enqueue(name, payload));
            else await context.with(requests.of(sentAll++), () => queue.enqueue(name, payload));
            latency?.record(performance.now() - t0);
          }
        };
        await Promise.all(Array.from({ length: params.producers }, producer));
      };
      await produce("warmup", params.warmup);
      resetTraffic(bench);
      const latency = new LatencyRecorder();
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      await produce(QUEUE, params.jobs, latency);
      const seconds = (performance.now() - t0) / 1_000;
      const cpu = process.cpuUsage(cpu0);
      const traffic = trafficOf(bench, params.jobs);
      await queue.close();
      await otel.shutdown();
      const cpuSeconds = (cpu.user + cpu.system) / 1e6;
      return [
        {
          workload: "single_enqueue",
          target: kind,
          params: paramsOf(params),
          jobs: params.jobs,
          seconds,
          jobsPerSec: params.jobs / seconds,
          latencyKind: "enqueue (awaited)",
          latency: latency.summary(),
          traffic,
          peakRssMb: peakRssMb(),
          metrics: {
            cpuMicrosPerJob: (cpuSeconds * 1e6) / params.jobs,
            cpuShare: cpuSeconds / seconds,
          },
        },
      ];
    } finally {
      await requests?.shutdown();
      await bench.cleanup();
    }
  },
};
