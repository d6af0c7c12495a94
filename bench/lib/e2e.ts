import type { Args } from "./args.js";

/**
 * The workload every system in the comparison runs: enqueue N jobs in
 * batches, then process them with concurrency C and a no-op handler. Two
 * phases, so enqueue and processing rates can be told apart; the headline
 * end-to-end rate is N over both phases.
 */
export interface EndToEndParams {
  jobs: number;
  concurrency: number;
  payloadBytes: number;
  /** Jobs per bulk-enqueue call (each system's batch API). */
  batch: number;
  /** taquba's group-commit window; default the library's (peers ignore it). */
  flushMs?: number;
}

export function endToEndParams(args: Args): EndToEndParams {
  return {
    jobs: args.number("jobs", 50_000),
    concurrency: args.number("concurrency", 32),
    payloadBytes: args.number("payload", 64),
    batch: args.number("batch", 1_000),
    flushMs: args.has("flush-ms") ? args.number("flush-ms", 0) : undefined,
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
