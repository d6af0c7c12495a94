import { performance } from "node:perf_hooks";
import { type Args, UsageError } from "./args.js";
import { LatencyRecorder } from "./latency.js";

/**
 * The workload every system in the comparison runs: enqueue N jobs — in
 * batches, or (with `producers` > 0) one at a time from P concurrent
 * producers that each await their own enqueue, the usual pattern in a web
 * app — then process them with concurrency C and a no-op handler. Two
 * phases, so enqueue and processing rates can be told apart; the headline
 * end-to-end rate is N over both phases. With `warmup` W > 0, W jobs first go
 * through both phases unmeasured, on a queue of their own (see {@link warmUp}).
 */
export interface EndToEndParams {
  jobs: number;
  concurrency: number;
  payloadBytes: number;
  /** Jobs per bulk-enqueue call (each system's batch API). */
  batch: number;
  /** 0: enqueue in batches of `batch`; P > 0: P concurrent producers enqueue one job per call. */
  producers: number;
  /** taquba's group-commit window; default the library's (peers ignore it). */
  flushMs?: number;
  /**
   * taquba's `runWorker` `prefetch` (claims held ready): a number or
   * `"auto"`; absent, the library's default (peers ignore it).
   */
  prefetch?: number | "auto";
  /** Jobs run through both phases, unmeasured, before the measured run (0: none). */
  warmup: number;
}

export function endToEndParams(args: Args): EndToEndParams {
  return {
    ...sharedEndToEndParams(args),
    concurrency: args.integer("concurrency", 32, 1),
    producers: args.integer("producers", 0, 0),
    prefetch: args.has("prefetch") ? prefetchArg(args.string("prefetch", "")) : undefined,
  };
}

/** What every system's run of a comparison shares, read from the comparison's own flags. */
export type SharedEndToEndParams = Pick<
  EndToEndParams,
  "jobs" | "payloadBytes" | "batch" | "flushMs" | "warmup"
>;

/**
 * The options of {@link endToEndParams} but `--concurrency`, `--producers` and `--prefetch`:
 * a comparison reads these once and varies the others per run (or keeps them taquba's).
 */
export function sharedEndToEndParams(args: Args): SharedEndToEndParams {
  return {
    jobs: args.integer("jobs", 50_000, 1),
    payloadBytes: args.integer("payload", 64, 0),
    batch: args.integer("batch", 1_000, 1),
    flushMs: args.has("flush-ms") ? args.number("flush-ms", 0) : undefined,
    warmup: args.integer("warmup", 0, 0),
  };
}

/** Per-phase timings of one run, in seconds, turned into the common metrics. */
export function endToEndMetrics(
  params: EndToEndParams,
  enqueueSeconds: number,
  processSeconds: number,
): Record<string, number> {
  return {
    enqueuePerSec: params.jobs / enqueueSeconds,
    processPerSec: params.jobs / processSeconds,
    enqueueSeconds,
    processSeconds,
  };
}

/** The payload string peers send (JSON payloads): `payloadBytes` ASCII characters. */
export function peerPayload(payloadBytes: number): string {
  return "a".repeat(payloadBytes);
}

/** How the enqueue phase adds jobs: one per call, or `n` in one bulk call. */
export interface EnqueueOps {
  one(): Promise<unknown>;
  many(n: number): Promise<unknown>;
}

/** What one enqueue-phase latency sample is, for the result. */
export function enqueueLatencyKind(params: EndToEndParams, bulkName: string): string {
  return params.producers > 0
    ? `single enqueue (${params.producers} producers)`
    : `${bulkName}(${params.batch})`;
}

/** Runs the enqueue phase (single or bulk, per `params`); returns its seconds. */
export async function enqueuePhase(
  params: EndToEndParams,
  ops: EnqueueOps,
  latency: LatencyRecorder,
): Promise<number> {
  const start = performance.now();
  if (params.producers > 0) {
    let started = 0;
    const producer = async (): Promise<void> => {
      while (started < params.jobs) {
        started++;
        const t0 = performance.now();
        await ops.one();
        latency.record(performance.now() - t0);
      }
    };
    await Promise.all(Array.from({ length: params.producers }, producer));
  } else {
    for (let sent = 0; sent < params.jobs; sent += params.batch) {
      const n = Math.min(params.batch, params.jobs - sent);
      const t0 = performance.now();
      await ops.many(n);
      latency.record(performance.now() - t0);
    }
  }
  return (performance.now() - start) / 1_000;
}

/** What a system supplies for the warm-up: enqueues into its warm-up queue, and the rest. */
export interface WarmupOps extends EnqueueOps {
  /** Processes `jobs` jobs of the warm-up queue as the measured run processes; resolves when all are done. */
  process(jobs: number): Promise<unknown>;
  /** Removes what the warm-up left behind (its queue), where the system keeps anything. */
  cleanup?(): Promise<unknown>;
}

/**
 * Runs `params.warmup` jobs through both phases, unmeasured, before the
 * measured run: enqueued into a queue of their own exactly as the measured
 * enqueue phase enqueues (same producers or batches; latencies dropped), then
 * all processed with the measured run's concurrency, then cleaned up. In a
 * fresh process the first few thousand jobs of each phase run at a fraction
 * of the later rate while V8 compiles the hot paths; without a warm-up a
 * short run measures that tier-up as much as the system. Every system in the
 * comparison warms up through this one function, so they are warmed alike.
 * Call it before the measured phases and before any traffic or CPU counter
 * is reset. `open` sets up the warm-up queue and is called only when
 * `warmup` is above 0; otherwise nothing runs.
 */
export async function warmUp(
  params: EndToEndParams,
  open: () => WarmupOps | Promise<WarmupOps>,
): Promise<void> {
  if (params.warmup <= 0) return;
  const ops = await open();
  await enqueuePhase({ ...params, jobs: params.warmup }, ops, new LatencyRecorder());
  await ops.process(params.warmup);
  await ops.cleanup?.();
}

/** `--prefetch`: `auto` or a count of claims held ready. */
export function prefetchArg(value: string): number | "auto" {
  if (value === "auto") return value;
  const count = Number(value);
  if (!Number.isInteger(count) || count < 0)
    throw new UsageError(`Expected \`--prefetch\` to be auto or an integer ≥ 0, got "${value}"`);
  return count;
}
