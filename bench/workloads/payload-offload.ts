import { performance } from "node:perf_hooks";
import { Queue } from "../../src/index.js";
import type { Args } from "../lib/args.js";
import { LatencyRecorder } from "../lib/latency.js";
import { payloadStamp, timedPayload } from "../lib/payload.js";
import { type BenchResult, peakRssMb } from "../lib/result.js";
import { createBenchStore, resetTraffic, type StoreKind, trafficOf } from "../lib/stores.js";
import type { Workload } from "../lib/workload.js";

export interface PayloadOffloadParams {
  /** Payload size (default 1 MiB, above the 256 KiB default threshold). */
  size: number;
  /** Jobs pushed through enqueue → claim → ack for write amplification. */
  jobs: number;
  /** Jobs left live (pending) to measure memory per live job. */
  live: number;
  producers: number;
  workers: number;
}

const QUEUE = "offload";
const MIB = 1_048_576;

/**
 * Large payloads with offload on (the default) and, for comparison, off
 * (`payloadOffloadBytes: null`), each on a fresh store:
 * - write amplification: store bytes written from open to clean close per
 *   payload byte, for jobs that are enqueued, claimed and acked;
 * - memory per live job: heap and RSS growth per job while `live` jobs are
 *   pending (after a forced GC when `--expose-gc` is on), and the checkpoint
 *   size that close writes with them still queued.
 */
export const payloadOffload: Workload<PayloadOffloadParams> = {
  name: "payload_offload",
  describe: "1 MiB payloads, offload on vs off: write amplification, memory per live job",
  params: (args: Args) => ({
    size: args.integer("size", MIB, 0),
    jobs: args.integer("jobs", 200, 1),
    live: args.integer("live", 200, 0),
    producers: args.integer("producers", 8, 1),
    workers: args.integer("workers", 16, 1),
  }),
  async run(kind: StoreKind, params: PayloadOffloadParams): Promise<BenchResult[]> {
    const results: BenchResult[] = [];
    for (const offload of [true, false]) results.push(await runOne(kind, params, offload));
    return results;
  },
};

function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

async function runOne(
  kind: StoreKind,
  params: PayloadOffloadParams,
  offload: boolean,
): Promise<BenchResult> {
  const bench = await createBenchStore(kind);
  const options = offload ? {} : { payloadOffloadBytes: null };
  try {
    // Write amplification: enqueue → claim → ack, counted from before open to after close.
    resetTraffic(bench);
    const queue = await Queue.open(bench.store, "bench/offload", options);
    const e2e = new LatencyRecorder();
    let issued = 0;
    let done = 0;
    const start = performance.now();
    const producer = async (): Promise<void> => {
      while (issued < params.jobs) {
        issued++;
        await queue.enqueue(QUEUE, timedPayload(params.size, performance.now()));
      }
    };
    const worker = async (): Promise<void> => {
      while (done < params.jobs) {
        const claim = await queue.claim(QUEUE, { waitMs: 50 });
        if (claim === null) continue;
        await queue.ack(claim);
        const stamp = payloadStamp(claim.payload);
        if (stamp !== undefined) e2e.record(performance.now() - stamp);
        done++;
      }
    };
    await Promise.all([
      ...Array.from({ length: params.producers }, producer),
      ...Array.from({ length: params.workers }, worker),
    ]);
    const seconds = (performance.now() - start) / 1_000;
    await queue.close();
    const traffic = trafficOf(bench, params.jobs);
    const payloadTotal = params.jobs * params.size;

    // Memory per live job: the same store path, `live` more jobs left pending.
    const live = await Queue.open(bench.store, "bench/offload", options);
    gc();
    const heapBefore = process.memoryUsage().heapUsed;
    const rssBefore = process.memoryUsage().rss;
    const arrayBefore = process.memoryUsage().arrayBuffers;
    for (let i = 0; i < params.live; i++)
      await live.enqueue(QUEUE, timedPayload(params.size, performance.now()));
    gc();
    const usage = process.memoryUsage();
    const perJob = (after: number, before: number) => Math.max(0, after - before) / params.live;
    const logBefore = live.logStats();
    await live.close();
    const reader = await import("../../src/queue/reader.js").then((m) =>
      m.QueueReader.open(bench.store, "bench/offload"),
    );
    const checkpointBytes = reader.inspection.checkpoint?.bytes ?? 0;
    return {
      workload: "payload_offload",
      target: kind,
      params: { payloadBytes: params.size, offload, jobs: params.jobs, live: params.live },
      jobs: params.jobs,
      seconds,
      jobsPerSec: params.jobs / seconds,
      latencyKind: "e2e (enqueue call → ack durable)",
      latency: e2e.summary(),
      traffic,
      peakRssMb: peakRssMb(),
      metrics: {
        writeAmplification: traffic.bytesWritten / payloadTotal,
        putsPerJob: traffic.putsPerJob,
        heapBytesPerLiveJob: perJob(usage.heapUsed, heapBefore),
        arrayBufferBytesPerLiveJob: perJob(usage.arrayBuffers, arrayBefore),
        rssBytesPerLiveJob: perJob(usage.rss, rssBefore),
        checkpointBytesPerLiveJob: checkpointBytes / params.live,
        unflushedBytesAtClose: logBefore.unflushedBytes,
        payloadMiB: params.size / MIB,
      },
    };
  } finally {
    await bench.cleanup();
  }
}
