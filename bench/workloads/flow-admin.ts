/**
 * The `flow_admin` workload: the bookkeeping of one flow of N jobs (a parent
 * and N-1 children, `MAX_FLOW_JOBS` by default) under the operator calls and
 * the acks that end its children. Phases, each on a fresh flow:
 * `enqueueFlow`; `removeJobs` of the children while pending (each removal
 * ends one of the parent's entries); claim and ack of every child; `cancel`
 * of the waiting parent; and, last, a takeover that replays the log of all
 * of it. Each phase reports its total time and its longest event-loop turn
 * (`monitorEventLoopDelay`, 1 ms resolution), the figure a child's end that
 * costs O(children) makes grow with the flow.
 */
import { monitorEventLoopDelay, performance } from "node:perf_hooks";
import { Queue, silentLogger } from "../../src/index.js";
import { MAX_FLOW_JOBS } from "../../src/queue/flows.js";
import type { Args } from "../lib/args.js";
import { type BenchResult, paramsOf, peakRssMb } from "../lib/result.js";
import { createBenchStore, type StoreKind } from "../lib/stores.js";
import type { Workload } from "../lib/workload.js";

export interface FlowAdminParams {
  jobs: number;
}

const PATH = "bench/flow-admin";

/** Runs `phase`, returning its wall time and longest event-loop turn (ms). */
async function measured(phase: () => Promise<unknown>): Promise<{ ms: number; maxTurnMs: number }> {
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  // Let the sampling timer start first: a phase that blocks at once is measured too.
  await new Promise((resolve) => setTimeout(resolve, 5));
  const started = performance.now();
  await phase();
  const ms = performance.now() - started;
  // One more turn, so a last long one is sampled.
  await new Promise((resolve) => setTimeout(resolve, 2));
  delay.disable();
  return { ms, maxTurnMs: delay.max / 1e6 };
}

export const flowAdmin: Workload<FlowAdminParams> = {
  name: "flow_admin",
  describe: "enqueueFlow, removeJobs of its children, acks, cancel and replay of one N-job flow",
  params: (args: Args) => ({ jobs: args.integer("jobs", MAX_FLOW_JOBS, 1) }),
  async run(kind: StoreKind, params: FlowAdminParams): Promise<BenchResult[]> {
    const bench = await createBenchStore(kind);
    try {
      const open = () =>
        Queue.open(bench.store, PATH, {
          logger: silentLogger,
          defaultQueueConfig: { maxAttempts: 1 },
        });
      const queue = await open();
      const payload = new Uint8Array(16);
      const flow = (child: string) => ({
        queue: "parent",
        payload,
        children: Array.from({ length: params.jobs - 1 }, () => ({ queue: child, payload })),
      });
      const phases: Record<string, { ms: number; maxTurnMs: number }> = {};
      let parent = "";
      phases.enqueueFlow = await measured(async () => {
        parent = (await queue.enqueueFlow(flow("removed"))).id;
      });
      phases.removeChildren = await measured(() => queue.removeJobs("removed", "pending"));
      if ((await queue.getJob(parent))?.status !== "dead") throw new Error("parent not dead");
      await queue.enqueueFlow(flow("acked"));
      phases.ackChildren = await measured(async () => {
        for (;;) {
          const claims = await queue.claimBatch("acked", 100);
          if (claims.length === 0) break;
          await Promise.all(claims.map((c) => queue.ack(c)));
        }
      });
      if ((await queue.stats("parent")).pending !== 1) throw new Error("parent not pending");
      const cancelled = await queue.enqueueFlow(flow("cancelled"));
      phases.cancelParent = await measured(() => queue.cancel(cancelled.id));
      await queue.flush();
      let replayed: Queue | undefined;
      phases.replay = await measured(async () => {
        replayed = await open(); // a takeover: replays the log (as after a crash)
      });
      await replayed?.close();
      await queue.close().catch(() => {}); // fenced by the takeover
      const metrics: Record<string, number> = {};
      let seconds = 0;
      let worst = 0;
      for (const [name, { ms, maxTurnMs }] of Object.entries(phases)) {
        metrics[`${name}Ms`] = ms;
        metrics[`${name}MaxTurnMs`] = maxTurnMs;
        seconds += ms / 1_000;
        worst = Math.max(worst, maxTurnMs);
      }
      return [
        {
          workload: "flow_admin",
          target: kind,
          params: paramsOf(params),
          jobs: params.jobs,
          seconds,
          jobsPerSec: 0,
          latencyKind: "event-loop turn",
          latency: { count: 0, mean: 0, p50: 0, p95: worst, p99: worst, max: worst },
          peakRssMb: peakRssMb(),
          metrics,
        },
      ];
    } finally {
      await bench.cleanup();
    }
  },
};
