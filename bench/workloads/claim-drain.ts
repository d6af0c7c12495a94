import { performance } from "node:perf_hooks";
import { Queue } from "../../src/index.js";
import type { Args } from "../lib/args.js";
import { LatencyRecorder } from "../lib/latency.js";
import { timedPayload } from "../lib/payload.js";
import { collectGarbage } from "../lib/process.js";
import { type BenchResult, paramsOf, peakRssMb } from "../lib/result.js";
import { createBenchStore, resetTraffic, type StoreKind, trafficOf } from "../lib/stores.js";
import { round } from "../lib/windows.js";
import type { Workload } from "../lib/workload.js";

export interface ClaimDrainParams {
  jobs: number;
  workers: number;
  payloadBytes: number;
  /** Slices of the drain over which claim latency is summarised (flatness check). */
  slices: number;
}

const QUEUE = "drain";
const PREFILL_BATCH = 1_000;

/**
 * Prefill N jobs, then drain them with W concurrent claim→ack loops. Claim
 * latency is the in-process time of `claim()`; the drain is cut into slices to
 * show it stays flat from a deep backlog down to an empty one.
 */
export const claimDrain: Workload<ClaimDrainParams> = {
  name: "claim_drain",
  describe: "prefill N jobs, drain with W claim→ack loops; claim latency per slice of the drain",
  params: (args: Args) => ({
    jobs: args.integer("jobs", 50_000, 1),
    workers: args.integer("workers", 50, 1),
    payloadBytes: args.integer("payload", 64, 0),
    slices: args.integer("slices", 10, 1),
  }),
  async run(kind: StoreKind, params: ClaimDrainParams): Promise<BenchResult[]> {
    const bench = await createBenchStore(kind);
    try {
      const queue = await Queue.open(bench.store, "bench/claim-drain");
      const payload = timedPayload(params.payloadBytes);
      const prefillStart = performance.now();
      for (let done = 0; done < params.jobs; done += PREFILL_BATCH) {
        const n = Math.min(PREFILL_BATCH, params.jobs - done);
        await queue.enqueueBatch(
          QUEUE,
          Array.from({ length: n }, () => payload),
        );
      }
      await queue.flush();
      const prefillSeconds = (performance.now() - prefillStart) / 1_000;
      await collectGarbage();
      resetTraffic(bench);

      const claimLatency = new LatencyRecorder();
      const claimCallLatency = new LatencyRecorder();
      const ackLatency = new LatencyRecorder();
      const drainStart = performance.now();
      const worker = async (): Promise<void> => {
        for (;;) {
          const t0 = performance.now();
          const pending = queue.claim(QUEUE);
          // The synchronous part of claim() is all of its work on an in-memory index;
          // the await adds only the wait for this task's turn on the event loop.
          const called = performance.now();
          const claim = await pending;
          const t1 = performance.now();
          if (claim === null) return;
          claimLatency.record(t1 - t0);
          claimCallLatency.record(called - t0);
          await queue.ack(claim);
          ackLatency.record(performance.now() - t1);
        }
      };
      await Promise.all(Array.from({ length: params.workers }, worker));
      const seconds = (performance.now() - drainStart) / 1_000;
      const traffic = trafficOf(bench, claimLatency.count);
      await queue.close();

      const slices = claimLatency.slices(params.slices);
      const first = slices[0];
      const last = slices[slices.length - 1];
      const ack = ackLatency.summary();
      return [
        {
          workload: "claim_drain",
          target: kind,
          params: paramsOf(params),
          jobs: claimLatency.count,
          seconds,
          jobsPerSec: claimLatency.count / seconds,
          latencyKind: "claim",
          latency: claimLatency.summary(),
          traffic,
          peakRssMb: peakRssMb(),
          metrics: {
            prefillJobsPerSec: params.jobs / prefillSeconds,
            claimP99FirstSliceMs: first?.p99 ?? 0,
            claimP99LastSliceMs: last?.p99 ?? 0,
            claimP99MaxSliceMs: Math.max(...slices.map((s) => s.p99)),
            claimCallP50Ms: claimCallLatency.summary().p50,
            claimCallP99Ms: claimCallLatency.summary().p99,
            ackP50Ms: ack.p50,
            ackP99Ms: ack.p99,
          },
          windows: slices.map((s, i) => ({
            slice: i + 1,
            claims: s.count,
            claimP50Ms: round(s.p50),
            claimP95Ms: round(s.p95),
            claimP99Ms: round(s.p99),
          })),
        },
      ];
    } finally {
      await bench.cleanup();
    }
  },
};
