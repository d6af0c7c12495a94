import { type EndToEndParams, endToEndMetrics, enqueueLatencyKind } from "../lib/e2e.js";
import type { LatencyRecorder } from "../lib/latency.js";
import { type BenchResult, paramsOf, peakRssMb } from "../lib/result.js";

/** A peer's end-to-end run in the same shape as taquba's. */
export function peerResult(
  target: string,
  params: EndToEndParams,
  settings: Record<string, number | string | boolean>,
  batchLatency: LatencyRecorder,
  enqueueSeconds: number,
  processSeconds: number,
): BenchResult {
  return {
    workload: "end_to_end",
    target,
    params: paramsOf(params, settings),
    jobs: params.jobs,
    seconds: enqueueSeconds + processSeconds,
    jobsPerSec: params.jobs / (enqueueSeconds + processSeconds),
    latencyKind: enqueueLatencyKind(params, "bulk add"),
    latency: batchLatency.summary(),
    peakRssMb: peakRssMb(),
    metrics: endToEndMetrics(params, enqueueSeconds, processSeconds),
  };
}
