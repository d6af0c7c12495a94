import { loadavg } from "node:os";
import { performance } from "node:perf_hooks";
import type { ClassTraffic } from "./key-classes.js";
import type { LatencySummary } from "./latency.js";

/** Object-store traffic of one run, from a counting wrapper. */
export interface StoreTraffic {
  puts: number;
  gets: number;
  lists: number;
  deletes: number;
  heads: number;
  bytesWritten: number;
  bytesRead: number;
  putsPerJob: number;
  bytesWrittenPerJob: number;
  walPutsPerJob: number;
  walBytesPerJob: number;
  /** Latency of the WAL PUTs themselves (the store's share of every durable wait). */
  walPutP50Ms: number;
  walPutP99Ms: number;
  /** Median time the WAL sat idle between one PUT settling and the next starting. */
  walIdleGapP50Ms: number;
  /** PUTs and bytes per object kind (`wal`, `checkpoint`, `manifest`, ...). */
  byClass: Record<string, ClassTraffic>;
}

/**
 * What every workload reports. One line of JSON per run (prefixed with
 * {@link RESULT_PREFIX}) so a parent process can collect results from children.
 */
export interface BenchResult {
  workload: string;
  /** `memory`, `file`, `s3like`, `radosgw`, or a peer's name. */
  target: string;
  params: Record<string, number | string | boolean>;
  /** Jobs that went through the measured phase. */
  jobs: number;
  /** Length of the measured phase. */
  seconds: number;
  jobsPerSec: number;
  /** What {@link latency} measures, e.g. `claim`, `e2e` (enqueue call → ack durable). */
  latencyKind: string;
  /** Milliseconds. */
  latency: LatencySummary;
  /** Absent for peers (their servers' traffic is not counted). */
  traffic?: StoreTraffic;
  /** Peak resident set size of the process that ran the workload. */
  peakRssMb: number;
  /** Workload-specific figures (names carry their unit). */
  metrics: Record<string, number>;
  /** The machine's 1-minute load average when the run ended (others' work skews results). */
  loadAvg1m?: number;
  /** Share of the process's life its event loop was busy (1 = the JS thread was saturated). */
  eventLoopUtilization?: number;
  /** CPU seconds (user + system, all threads) the process used. */
  cpuSeconds?: number;
  /** Optional time series: per-second windows or drain slices. */
  windows?: Record<string, number>[];
}

export const RESULT_PREFIX = "RESULT ";

/** Print a result so a parent process can pick it up with {@link parseResults}. */
export function emitResult(result: BenchResult): void {
  const cpu = process.cpuUsage();
  const withLoad = {
    ...result,
    loadAvg1m: loadavg()[0] ?? 0,
    eventLoopUtilization: performance.eventLoopUtilization().utilization,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
  };
  process.stdout.write(`${RESULT_PREFIX}${JSON.stringify(withLoad)}\n`);
}

/** Every result line in a child's output. */
export function parseResults(output: string): BenchResult[] {
  return output
    .split("\n")
    .filter((line) => line.startsWith(RESULT_PREFIX))
    .map((line) => JSON.parse(line.slice(RESULT_PREFIX.length)) as BenchResult);
}

/** Peak RSS of this process so far, in MiB (the kernel's high-water mark). */
export function peakRssMb(): number {
  return process.resourceUsage().maxRSS / 1024;
}

/** A workload's parameters as result params: unset options left out (JSON would drop them anyway). */
export function paramsOf(
  params: object,
  extra: Record<string, number | string | boolean> = {},
): Record<string, number | string | boolean> {
  const out: Record<string, number | string | boolean> = {};
  for (const [name, value] of Object.entries({ ...params, ...extra })) {
    if (typeof value === "number" || typeof value === "string" || typeof value === "boolean")
      out[name] = value;
  }
  return out;
}
