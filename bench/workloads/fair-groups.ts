import { monitorEventLoopDelay, performance } from "node:perf_hooks";
import { Queue, runWorker, silentLogger } from "../../src/index.js";
import type { Args } from "../lib/args.js";
import { LatencyRecorder } from "../lib/latency.js";
import { type BenchResult, paramsOf, peakRssMb } from "../lib/result.js";
import { createBenchStore, resetTraffic, type StoreKind, trafficOf } from "../lib/stores.js";
import type { Workload } from "../lib/workload.js";

export interface FairGroupsParams {
  /** Pending jobs of the noisy tenant, enqueued before the workers start. */
  noisy: number;
  /** Jobs of the quiet tenant, one every `quietEveryMs` while the workers drain. */
  quiet: number;
  quietEveryMs: number;
  /** Handlers (`runWorker` concurrency). */
  concurrency: number;
  /** Give up on quiet jobs still waiting this long after the last was enqueued. */
  maxWaitSeconds: number;
  /** `grouped` (tenants as groupKey), `plain` (no groupKey), or both. */
  modes: string;
}

const QUEUE = "tenants";
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A noisy tenant with `noisy` pending jobs and a quiet tenant enqueueing a
 * job now and then, on one queue drained by `runWorker`. With the tenants as
 * fair groups, a quiet job waits at most one turn of the rotation; without,
 * it waits behind the whole backlog. Reports the quiet tenant's latency
 * (enqueue → claim), how many claims went to others between a quiet job's
 * enqueue and its claim, the worst event-loop delay while enqueueing,
 * draining and reopening the backlog.
 */
const FAIR_MODES = ["grouped", "plain"] as const;

export const fairGroups: Workload<FairGroupsParams> = {
  name: "fair_groups",
  describe: "quiet tenant's latency beside a noisy tenant's backlog, with and without groupKey",
  params: (args: Args) => ({
    noisy: args.integer("noisy", 1_000_000, 0),
    quiet: args.integer("quiet", 200, 1),
    quietEveryMs: args.number("quiet-every-ms", 10),
    concurrency: args.integer("concurrency", 32, 1),
    maxWaitSeconds: args.number("max-wait-seconds", 10),
    modes: args.listOf("modes", FAIR_MODES, FAIR_MODES).join(","),
  }),
  async run(kind: StoreKind, params: FairGroupsParams): Promise<BenchResult[]> {
    const results: BenchResult[] = [];
    for (const mode of params.modes.split(","))
      results.push(await runMode(kind, params, mode === "grouped"));
    return results;
  },
};

async function runMode(
  kind: StoreKind,
  params: FairGroupsParams,
  grouped: boolean,
): Promise<BenchResult> {
  const bench = await createBenchStore(kind);
  const delay = monitorEventLoopDelay({ resolution: 1 });
  const worst = async (phase: () => Promise<void>): Promise<number> => {
    delay.reset();
    delay.enable();
    await phase();
    await sleep(20);
    delay.disable();
    return delay.max / 1e6;
  };
  try {
    let queue = await Queue.open(bench.store, "bench/fair", { logger: silentLogger });
    const noisyOptions = grouped ? { groupKey: "noisy" } : {};
    const enqueueStart = performance.now();
    const enqueueStallMs = await worst(async () => {
      for (let i = 0; i < params.noisy; i += 1_000)
        await queue.enqueueMany(
          QUEUE,
          Array.from({ length: Math.min(1_000, params.noisy - i) }, () => ({
            payload: "n",
            options: noisyOptions,
          })),
        );
    });
    const enqueueSeconds = (performance.now() - enqueueStart) / 1_000;
    let reopenSeconds = 0;
    let reopenStallMs = 0;
    {
      // Reopen with the backlog (grouped: the groups are rebuilt from the checkpoint in slices).
      await queue.close();
      const reopenStart = performance.now();
      reopenStallMs = await worst(async () => {
        queue = await Queue.open(bench.store, "bench/fair", { logger: silentLogger });
      });
      reopenSeconds = (performance.now() - reopenStart) / 1_000;
    }
    const latency = new LatencyRecorder();
    const ahead = new LatencyRecorder();
    const enqueuedAt = new Map<string, { at: number; claims: number }>();
    let claims = 0;
    let quietClaimed = 0;
    const stop = new AbortController();
    resetTraffic(bench);
    const start = performance.now();
    const worker = runWorker(
      queue,
      QUEUE,
      (job) => {
        claims++;
        const seen = enqueuedAt.get(job.id);
        if (seen === undefined) return;
        latency.record(performance.now() - seen.at);
        ahead.record(claims - 1 - seen.claims);
        quietClaimed++;
      },
      { concurrency: params.concurrency, signal: stop.signal },
    );
    const quietOptions = grouped ? { groupKey: "quiet" } : {};
    const drainStallMs = await worst(async () => {
      for (let i = 0; i < params.quiet; i++) {
        const at = performance.now();
        const before = claims;
        const id = await queue.enqueue(QUEUE, "q", quietOptions);
        enqueuedAt.set(id, { at, claims: before });
        await sleep(params.quietEveryMs);
      }
      const deadline = performance.now() + params.maxWaitSeconds * 1_000;
      while (quietClaimed < params.quiet && performance.now() < deadline) await sleep(10);
    });
    const seconds = (performance.now() - start) / 1_000;
    stop.abort();
    await worker;
    await queue.close();
    return {
      workload: "fair_groups",
      target: kind,
      params: paramsOf(params, { mode: grouped ? "grouped" : "plain" }),
      jobs: claims,
      seconds,
      jobsPerSec: claims / seconds,
      latencyKind: "quiet tenant: enqueue → claim",
      latency: latency.summary(),
      traffic: trafficOf(bench, claims),
      peakRssMb: peakRssMb(),
      metrics: {
        quietClaimed,
        quietEnqueued: params.quiet,
        claimsAheadOfQuietP50: ahead.summary().p50,
        claimsAheadOfQuietMax: ahead.summary().max,
        noisyEnqueueSeconds: enqueueSeconds,
        enqueueMaxLoopDelayMs: enqueueStallMs,
        drainMaxLoopDelayMs: drainStallMs,
        reopenSeconds,
        reopenMaxLoopDelayMs: reopenStallMs,
      },
    };
  } finally {
    await bench.cleanup();
  }
}
