import { performance } from "node:perf_hooks";
import { Queue } from "../../src/index.js";
import type { Args } from "../lib/args.js";
import { LatencyRecorder } from "../lib/latency.js";
import { payloadStamp, timedPayload } from "../lib/payload.js";
import { type BenchResult, peakRssMb } from "../lib/result.js";
import { createBenchStore, resetTraffic, type StoreKind, trafficOf } from "../lib/stores.js";
import type { Workload } from "../lib/workload.js";

export interface PayloadSweepParams {
  sizes: number[];
  /** Payload bytes pushed through per size; the job count is this / size, within [minJobs, maxJobs]. */
  bytesPerSize: number;
  minJobs: number;
  maxJobs: number;
  producers: number;
  workers: number;
}

const QUEUE = "sweep";

/** Jobs to run for one payload size. */
export function jobsForSize(params: PayloadSweepParams, size: number): number {
  return Math.max(params.minJobs, Math.min(params.maxJobs, Math.floor(params.bytesPerSize / size)));
}

/**
 * Per payload size, on a fresh store: closed-loop producers enqueue jobs one
 * at a time while workers claim and ack them. Every byte and PUT the store
 * receives from open to clean close is counted, so write amplification
 * (store bytes written / payload bytes) includes WAL framing, transition
 * records, manifests and the final checkpoint.
 */
export const payloadSweep: Workload<PayloadSweepParams> = {
  name: "payload_sweep",
  describe: "64 B to 256 KiB payloads: write amplification, PUTs and bytes per job",
  params: (args: Args) => ({
    sizes: args.list("sizes", ["64", "1024", "16384", "262144"]).map(Number),
    bytesPerSize: args.integer("bytes-per-size", 64 * 1024 * 1024, 1),
    minJobs: args.integer("min-jobs", 500, 1),
    maxJobs: args.integer("max-jobs", 20_000, 1),
    producers: args.integer("producers", 32, 1),
    workers: args.integer("workers", 64, 1),
  }),
  async run(kind: StoreKind, params: PayloadSweepParams): Promise<BenchResult[]> {
    const results: BenchResult[] = [];
    for (const size of params.sizes) results.push(await runSize(kind, params, size));
    return results;
  },
};

async function runSize(
  kind: StoreKind,
  params: PayloadSweepParams,
  size: number,
): Promise<BenchResult> {
  const bench = await createBenchStore(kind);
  try {
    const jobs = jobsForSize(params, size);
    // Count from before open: opening writes a manifest and a fence, part of the cost.
    resetTraffic(bench);
    const queue = await Queue.open(bench.store, "bench/payload-sweep");
    const enqueueLatency = new LatencyRecorder();
    const ackLatency = new LatencyRecorder();
    const e2e = new LatencyRecorder();
    let issued = 0;
    let done = 0;
    const start = performance.now();
    const producer = async (): Promise<void> => {
      while (issued < jobs) {
        issued++;
        const t0 = performance.now();
        await queue.enqueue(QUEUE, timedPayload(size, t0));
        enqueueLatency.record(performance.now() - t0);
      }
    };
    const worker = async (): Promise<void> => {
      while (done < jobs) {
        const claim = await queue.claim(QUEUE, { waitMs: 50 });
        if (claim === null) continue;
        const t0 = performance.now();
        await queue.ack(claim);
        const now = performance.now();
        ackLatency.record(now - t0);
        const stamp = payloadStamp(claim.payload);
        if (stamp !== undefined) e2e.record(now - stamp);
        done++;
      }
    };
    await Promise.all([
      ...Array.from({ length: params.producers }, producer),
      ...Array.from({ length: params.workers }, worker),
    ]);
    const seconds = (performance.now() - start) / 1_000;
    const beforeClose = trafficOf(bench, jobs);
    await queue.close();
    const traffic = trafficOf(bench, jobs);
    const payloadTotal = jobs * size;
    return {
      workload: "payload_sweep",
      target: kind,
      params: { payloadBytes: size, producers: params.producers, workers: params.workers },
      jobs,
      seconds,
      jobsPerSec: jobs / seconds,
      latencyKind: "e2e (enqueue call → ack durable)",
      latency: e2e.summary(),
      traffic,
      peakRssMb: peakRssMb(),
      metrics: {
        writeAmplification: traffic.bytesWritten / payloadTotal,
        writeAmplificationBeforeClose: beforeClose.bytesWritten / payloadTotal,
        walWriteAmplification: (traffic.walBytesPerJob * jobs) / payloadTotal,
        putsPerJob: traffic.putsPerJob,
        enqueueMBps: payloadTotal / 1_048_576 / seconds,
        enqueueP50Ms: enqueueLatency.summary().p50,
        enqueueP99Ms: enqueueLatency.summary().p99,
        ackP99Ms: ackLatency.summary().p99,
      },
    };
  } finally {
    await bench.cleanup();
  }
}
