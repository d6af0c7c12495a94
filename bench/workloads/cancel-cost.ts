/**
 * The `cancel_cost` workload: N pending jobs, cancelled through the queue's
 * API, first one by one (each awaited) and then in transactions of `tx`
 * cancels. Reports the process's CPU µs per cancel of each phase and the
 * longest event-loop turn (`monitorEventLoopDelay`) while transactions run,
 * next to the CPU µs per enqueue of the same jobs for scale.
 */
import { monitorEventLoopDelay, performance } from "node:perf_hooks";
import { Queue } from "../../src/index.js";
import type { Args } from "../lib/args.js";
import { LatencyRecorder } from "../lib/latency.js";
import { type BenchResult, paramsOf, peakRssMb } from "../lib/result.js";
import { createBenchStore, type StoreKind } from "../lib/stores.js";
import { chunk, flushMsArg, openOptions, type Workload } from "../lib/workload.js";

export interface CancelCostParams {
  jobs: number;
  /** Jobs cancelled one by one (each awaited) before the transactions. */
  single: number;
  /** Cancels per transaction. */
  tx: number;
  flushMs?: number;
}

function cpuMicros(from: NodeJS.CpuUsage): number {
  const { user, system } = process.cpuUsage(from);
  return user + system;
}

export const cancelCost: Workload<CancelCostParams> = {
  name: "cancel_cost",
  describe: "N pending jobs cancelled one by one and in transactions: CPU µs per cancel",
  params: (args: Args) => ({
    jobs: args.integer("jobs", 100_000, 1),
    single: args.integer("single", 2_000, 0),
    tx: args.integer("tx", 1_000, 1),
    flushMs: flushMsArg(args),
  }),
  async run(kind: StoreKind, params: CancelCostParams): Promise<BenchResult[]> {
    const bench = await createBenchStore(kind);
    try {
      const queue = await Queue.open(bench.store, "bench/cancel-cost", openOptions(params.flushMs));
      const payload = new Uint8Array(64).fill(0x61);
      const ids: string[] = [];
      let cpu = process.cpuUsage();
      for (const part of chunk(Array.from({ length: params.jobs }), 1_000))
        ids.push(
          ...(await queue.enqueueBatch(
            "cc",
            part.map(() => payload),
          )),
        );
      const enqueueMicros = cpuMicros(cpu) / params.jobs;

      const single = ids.slice(0, params.single);
      cpu = process.cpuUsage();
      for (const id of single) await queue.cancel(id);
      const singleMicros = cpuMicros(cpu) / Math.max(1, single.length);

      const rest = ids.slice(params.single);
      const latency = new LatencyRecorder();
      const delay = monitorEventLoopDelay({ resolution: 1 });
      delay.enable();
      cpu = process.cpuUsage();
      const t0 = performance.now();
      for (const part of chunk(rest, params.tx)) {
        const s = performance.now();
        await queue.transaction((tx) => {
          for (const id of part) tx.cancel(id);
        });
        latency.record(performance.now() - s);
      }
      const seconds = (performance.now() - t0) / 1_000;
      const txMicros = cpuMicros(cpu) / Math.max(1, rest.length);
      delay.disable();
      await queue.close();
      return [
        {
          workload: "cancel_cost",
          target: kind,
          params: paramsOf(params),
          jobs: rest.length,
          seconds,
          jobsPerSec: rest.length / seconds,
          latencyKind: `transaction of ${params.tx} cancels (awaited)`,
          latency: latency.summary(),
          peakRssMb: peakRssMb(),
          metrics: {
            enqueueCpuMicrosPerJob: enqueueMicros,
            singleCancelCpuMicros: singleMicros,
            txCancelCpuMicros: txMicros,
            maxEventLoopTurnMs: delay.max / 1e6,
          },
        },
      ];
    } finally {
      await bench.cleanup();
    }
  },
};
