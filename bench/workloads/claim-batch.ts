/**
 * The `claim_batch` workload: prefill N jobs, then drain them with W loops
 * that each claim a batch of B jobs with `claimBatch`, ack every claim of the
 * batch concurrently, and claim again. Reports jobs/s, the latency of the
 * batch claim (call → claims durable) and of the acks, and the WAL PUTs per
 * job next to `claim_drain`'s one-at-a-time loop.
 */
import { performance } from "node:perf_hooks";
import { Queue } from "../../src/index.js";
import type { Args } from "../lib/args.js";
import { LatencyRecorder } from "../lib/latency.js";
import { timedPayload } from "../lib/payload.js";
import { collectGarbage } from "../lib/process.js";
import { type BenchResult, paramsOf, peakRssMb } from "../lib/result.js";
import { createBenchStore, resetTraffic, type StoreKind, trafficOf } from "../lib/stores.js";
import type { Workload } from "../lib/workload.js";

export interface ClaimBatchParams {
  jobs: number;
  workers: number;
  batch: number;
  payloadBytes: number;
}

const QUEUE = "batch";
const PREFILL_BATCH = 1_000;

export const claimBatch: Workload<ClaimBatchParams> = {
  name: "claim_batch",
  describe: "prefill N jobs, drain with W loops of claimBatch(B) → ack each; batch claim latency",
  params: (args: Args) => ({
    jobs: args.integer("jobs", 50_000, 1),
    workers: args.integer("workers", 8, 1),
    batch: args.integer("batch", 100, 1),
    payloadBytes: args.integer("payload", 64, 0),
  }),
  async run(kind: StoreKind, params: ClaimBatchParams): Promise<BenchResult[]> {
    const bench = await createBenchStore(kind);
    try {
      const queue = await Queue.open(bench.store, "bench/claim-batch");
      const payload = timedPayload(params.payloadBytes);
      for (let done = 0; done < params.jobs; done += PREFILL_BATCH) {
        const n = Math.min(PREFILL_BATCH, params.jobs - done);
        await queue.enqueueBatch(
          QUEUE,
          Array.from({ length: n }, () => payload),
        );
      }
      await queue.flush();
      await collectGarbage();
      resetTraffic(bench);

      const batchLatency = new LatencyRecorder();
      const ackLatency = new LatencyRecorder();
      let claimed = 0;
      let batches = 0;
      const start = performance.now();
      const worker = async (): Promise<void> => {
        for (;;) {
          const t0 = performance.now();
          const claims = await queue.claimBatch(QUEUE, params.batch);
          const t1 = performance.now();
          if (claims.length === 0) return;
          batchLatency.record(t1 - t0);
          claimed += claims.length;
          batches++;
          await Promise.all(claims.map((c) => queue.ack(c)));
          ackLatency.record(performance.now() - t1);
        }
      };
      await Promise.all(Array.from({ length: params.workers }, worker));
      const seconds = (performance.now() - start) / 1_000;
      const traffic = trafficOf(bench, claimed);
      await queue.close();
      const acks = ackLatency.summary();
      return [
        {
          workload: "claim_batch",
          target: kind,
          params: paramsOf(params),
          jobs: claimed,
          seconds,
          jobsPerSec: claimed / seconds,
          latencyKind: "claimBatch",
          latency: batchLatency.summary(),
          traffic,
          peakRssMb: peakRssMb(),
          metrics: {
            batches,
            meanBatchSize: batches === 0 ? 0 : claimed / batches,
            batchAckP50Ms: acks.p50,
            batchAckP99Ms: acks.p99,
          },
        },
      ];
    } finally {
      await bench.cleanup();
    }
  },
};
