/**
 * The `txn_stalls` workload: the longest turn of the event loop while the
 * largest calls of one piece run — a transaction of MAX_TRANSACTION_OPS
 * enqueues with small payloads, one with the largest inline payloads (of
 * the offload threshold's size: only larger ones are offloaded), one acking as many claimed jobs and one
 * cancelling as many pending jobs of a queue holding N live jobs, and the
 * first `listSchedules` of a `QueueReader` over S schedules with a time zone;
 * with `--flow=F`, an `enqueueFlow` of F jobs whose root payload is offloaded
 * (one byte over `largePayload`) and one whose payloads are all inline;
 * and a `Queue`'s open over them, its `listSchedules` right after (which
 * waits for its planning in slices), its first `schedule`, replace and
 * `unschedule`, and a second listing.
 * Each phase is measured by a {@link PhaseMonitor}: the worst event-loop
 * delay and the longest on-CPU turn less GC ("our code").
 */
import { performance } from "node:perf_hooks";
import {
  type Claim,
  type FlowJob,
  MAX_TRANSACTION_OPS,
  Queue,
  QueueReader,
  silentLogger,
} from "../../src/index.js";
import type { Args } from "../lib/args.js";
import { PhaseMonitor, stallResult } from "../lib/phase-monitor.js";
import { type BenchResult, paramsOf } from "../lib/result.js";
import { createBenchStore, type StoreKind } from "../lib/stores.js";
import type { Workload } from "../lib/workload.js";

export interface TxnStallParams {
  /** Pending jobs the queue holds throughout. */
  live: number;
  /** Bytes of each payload of the large-payload transaction. */
  largePayload: number;
  /** Schedules (daily crons with a time zone) the reader lists. */
  schedules: number;
  /** Times each phase runs. */
  rounds: number;
  /** 0: only the reader's phases. */
  txn: number;
  /** Jobs of each flow (a root and its children) enqueued per round; 0: no flow phases. */
  flow: number;
}

const PATH = "bench/txn-stalls";
/** The reader's hook that waits for its background planning. */
const PLANNED = Symbol.for("taquba.schedulesPlanned");
/** The reader's hook the dashboard lists schedules through (in slices). */
const IN_SLICES = Symbol.for("taquba.listSchedulesInSlices");
const ZONES = ["Europe/Paris", "America/New_York", "Asia/Tokyo", "Australia/Sydney"];

/** A reader writes no checkpoints. */
const NO_LOG = { logStats: () => ({ checkpointsWritten: 0 }) };

export const txnStalls: Workload<TxnStallParams> = {
  name: "txn_stalls",
  describe: "longest turn of maximal transactions and of a reader's first listSchedules",
  params: (args: Args) => ({
    live: args.integer("live", 100_000, 0),
    largePayload: args.integer("large-payload", 262_144, 0),
    schedules: args.integer("schedules", 10_000, 0),
    rounds: args.integer("rounds", 3, 1),
    txn: args.integer("txn", 1, 0),
    flow: args.integer("flow", 0, 0),
  }),
  async run(kind: StoreKind, params: TxnStallParams): Promise<BenchResult[]> {
    const bench = await createBenchStore(kind);
    const monitor = new PhaseMonitor();
    const started = performance.now();
    const n = MAX_TRANSACTION_OPS;
    try {
      const queue = await Queue.open(bench.store, PATH, { logger: silentLogger });
      const small = new Uint8Array(64).fill(0x61);
      for (let i = 0; i < params.live; i += 1_000)
        await queue.enqueueBatch(
          "live",
          Array.from({ length: Math.min(1_000, params.live - i) }, () => small),
        );
      const large = new Uint8Array(params.largePayload).fill(0x62);
      for (let r = 0; r < (params.txn === 0 ? 0 : params.rounds); r++) {
        await monitor.begin(queue);
        await queue.transaction((tx) => {
          for (let i = 0; i < n; i++) tx.enqueue("small", small);
        });
        await monitor.end(`transaction of ${n} enqueues × 64 B`, queue);

        await monitor.begin(queue);
        await queue.transaction((tx) => {
          for (let i = 0; i < n; i++) tx.enqueue("large", large);
        });
        await monitor.end(`transaction of ${n} enqueues × ${params.largePayload} B`, queue);
        await queue.removeJobs("large", "pending");

        const claims: Claim[] = await queue.claimBatch("small", n);
        await monitor.begin(queue);
        await queue.transaction((tx) => {
          for (const c of claims) tx.ack(c);
        });
        await monitor.end(`transaction of ${claims.length} acks`, queue);

        const pending = (await queue.listJobs("live", "pending", { limit: n })).jobs;
        await monitor.begin(queue);
        await queue.transaction((tx) => {
          for (const j of pending) tx.cancel(j.id);
        });
        await monitor.end(`transaction of ${pending.length} cancels`, queue);
      }
      for (let r = 0; r < (params.flow === 0 ? 0 : params.rounds); r++) {
        // A root payload one byte over the inline limit is written as its own object first.
        const offloaded = new Uint8Array(params.largePayload + 1).fill(0x63);
        await monitor.begin(queue);
        await queue.enqueueFlow(wideFlow(params.flow, offloaded, small));
        await monitor.end(`enqueueFlow of ${params.flow} jobs, root payload offloaded`, queue);
        await monitor.begin(queue);
        await queue.enqueueFlow(wideFlow(params.flow, small, small));
        await monitor.end(`enqueueFlow of ${params.flow} jobs, payloads inline`, queue);
      }
      for (let i = 0; i < params.schedules; i += 500)
        await Promise.all(
          Array.from({ length: Math.min(500, params.schedules - i) }, (_, k) =>
            queue.schedule(`s${i + k}`, {
              cron: `${(i + k) % 60} ${(i + k) % 24} * * *`,
              timezone: ZONES[(i + k) % ZONES.length]!,
              queue: "cron",
              payload: small,
            }),
          ),
        );
      await queue.close();
      for (let r = 0; r < params.rounds; r++) {
        // The writer: open over the stored schedules, then its first calls.
        await monitor.begin(NO_LOG);
        const writer = await Queue.open(bench.store, PATH, { logger: silentLogger });
        await monitor.end(`queue: open over ${params.schedules} zoned schedules`, writer);
        await monitor.begin(writer);
        const own = await writer.listSchedules();
        await monitor.end(`queue: listSchedules right after open of ${own.length}`, writer);
        await monitor.begin(writer);
        await writer.schedule(`added${r}`, {
          cron: "30 12 * * *",
          timezone: ZONES[r % ZONES.length]!,
          queue: "cron",
          payload: small,
        });
        await writer.schedule("s1", {
          cron: `${r} 1 * * *`,
          timezone: ZONES[1]!,
          queue: "cron",
          payload: small,
        });
        await writer.unschedule(`added${r}`);
        await monitor.end("queue: first schedule, replace and unschedule", writer);
        await monitor.begin(writer);
        const again = await writer.listSchedules();
        await monitor.end(`queue: listSchedules again of ${again.length}`, writer);
        await writer.close();

        await monitor.begin(NO_LOG);
        const reader = await QueueReader.open(bench.store, PATH, { logger: silentLogger });
        await monitor.end(`reader: open over ${params.schedules} zoned schedules`, NO_LOG);
        await monitor.begin(NO_LOG);
        const listed = reader.listSchedules();
        await monitor.end(
          `reader: first listSchedules of ${listed.length} zoned schedules`,
          NO_LOG,
        );
        // As the dashboard's schedules page: a listing in slices right after open.
        const shown = await QueueReader.open(bench.store, PATH, { logger: silentLogger });
        await monitor.begin(NO_LOG);
        const inSlices = await (shown as unknown as Record<symbol, () => Promise<unknown[]>>)[
          IN_SLICES
        ]!.call(shown);
        await monitor.end(
          `reader: listing in slices right after open (the dashboard's) of ${inSlices.length}`,
          NO_LOG,
        );
        // Wait for the reader's background planning, then list at once.
        const planned = await QueueReader.open(bench.store, PATH, { logger: silentLogger });
        await monitor.begin(NO_LOG);
        await (planned as unknown as Record<symbol, () => Promise<void>>)[PLANNED]!.call(planned);
        const afterPlanning = planned.listSchedules();
        await monitor.end(
          `reader: background planning, then listSchedules of ${afterPlanning.length}`,
          NO_LOG,
        );
      }
    } finally {
      monitor.stop();
      await bench.cleanup();
    }
    return [
      stallResult(
        "txn_stalls",
        kind,
        paramsOf(params),
        params.live,
        (performance.now() - started) / 1_000,
        monitor.rows,
      ),
    ];
  },
};

/** A flow of `jobs` jobs: one root (payload `root`) waiting for `jobs - 1` children. */
function wideFlow(jobs: number, root: Uint8Array, child: Uint8Array): FlowJob {
  return {
    queue: "flow",
    payload: root,
    children: Array.from({ length: Math.max(0, jobs - 1) }, () => ({
      queue: "flow",
      payload: child,
    })),
  };
}
