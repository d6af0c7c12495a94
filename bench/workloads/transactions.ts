/**
 * The `transactions` workload: jobs settled by transactions that also start
 * follow-up work — per job, one transaction of 1 ack + 3 enqueues + 2 KV
 * writes, the shape of a pipeline step that records what it did. N jobs are
 * prefilled, then W loops claim and settle them. Reports jobs/s, the
 * transaction's latency (call → durable), and WAL PUTs per job (a
 * transaction is one record, so it shares group commits like a plain ack).
 * `--separate=1` makes the same six writes as separate concurrent calls (not
 * atomic), for comparison.
 */
import { performance } from "node:perf_hooks";
import { Queue, silentLogger } from "../../src/index.js";
import type { Args } from "../lib/args.js";
import { LatencyRecorder } from "../lib/latency.js";
import { collectGarbage } from "../lib/process.js";
import { type BenchResult, paramsOf, peakRssMb } from "../lib/result.js";
import { createBenchStore, resetTraffic, type StoreKind, trafficOf } from "../lib/stores.js";
import type { Workload } from "../lib/workload.js";

export interface TransactionsParams {
  jobs: number;
  workers: number;
  payloadBytes: number;
  /** 1: the same six writes as separate calls (concurrent, not atomic), for comparison. */
  separate: number;
}

const IN = "tx-in";
const PREFILL_BATCH = 1_000;

export const transactions: Workload<TransactionsParams> = {
  name: "transactions",
  describe: "claim N jobs and settle each with one transaction: 1 ack + 3 enqueues + 2 KV writes",
  params: (args: Args) => ({
    jobs: args.integer("jobs", 20_000, 1),
    workers: args.integer("workers", 64, 1),
    payloadBytes: args.integer("payload", 64, 0),
    separate: args.integer("separate", 0, 0),
  }),
  async run(kind: StoreKind, params: TransactionsParams): Promise<BenchResult[]> {
    const bench = await createBenchStore(kind);
    try {
      const queue = await Queue.open(bench.store, "bench/transactions", { logger: silentLogger });
      const payload = new Uint8Array(params.payloadBytes);
      for (let done = 0; done < params.jobs; done += PREFILL_BATCH) {
        const n = Math.min(PREFILL_BATCH, params.jobs - done);
        await queue.enqueueBatch(
          IN,
          Array.from({ length: n }, () => payload),
        );
      }
      await queue.flush();
      await collectGarbage();
      resetTraffic(bench);
      const latency = new LatencyRecorder();
      const start = performance.now();
      let settled = 0;
      const worker = async (): Promise<void> => {
        for (;;) {
          const claim = await queue.claim(IN);
          if (claim === null) return;
          const t0 = performance.now();
          if (params.separate === 1)
            await Promise.all([
              queue.ack(claim),
              queue.enqueue("tx-out-a", payload),
              queue.enqueue("tx-out-b", payload),
              queue.enqueue("tx-out-c", payload),
              queue.kvPut(`job/${claim.id}/state`, "done"),
              queue.kvPut(`job/${claim.id}/by`, "bench"),
            ]);
          else
            await queue.transaction((tx) => {
              tx.ack(claim);
              tx.enqueue("tx-out-a", payload);
              tx.enqueue("tx-out-b", payload);
              tx.enqueue("tx-out-c", payload);
              tx.kvPut(`job/${claim.id}/state`, "done");
              tx.kvPut(`job/${claim.id}/by`, "bench");
            });
          latency.record(performance.now() - t0);
          settled++;
        }
      };
      await Promise.all(Array.from({ length: params.workers }, worker));
      const seconds = (performance.now() - start) / 1_000;
      const traffic = trafficOf(bench, settled);
      await queue.close();
      return [
        {
          workload: "transactions",
          target: kind,
          params: paramsOf(params),
          jobs: settled,
          seconds,
          jobsPerSec: settled / seconds,
          latencyKind: params.separate === 1 ? "six separate calls" : "transaction",
          latency: latency.summary(),
          traffic,
          peakRssMb: peakRssMb(),
          metrics: {
            walPutsPerJob: traffic.walPutsPerJob,
            walBytesPerJob: traffic.walBytesPerJob,
          },
        },
      ];
    } finally {
      await bench.cleanup();
    }
  },
};
