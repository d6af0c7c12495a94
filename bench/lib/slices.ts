/**
 * Timing of work done in slices (a checkpoint's encode and decode, bulk
 * records): each step's wall and CPU time, and the summary the slice
 * workloads (`kv_slices`, `cancelled_slices`) report. CPU time is the
 * process's (every thread, so the garbage collector's helper threads count,
 * marking concurrently or scavenging in parallel) and, where the system tells
 * it (Linux), the main thread's alone: what the slice itself ran. On a loaded
 * machine a slice can wait for a core, which wall time shows and CPU time
 * does not.
 */
import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { SnapshotReader } from "../../src/queue/snapshot-decoder.js";
import { SnapshotWriter } from "../../src/queue/snapshot-encoder.js";
import type { State } from "../../src/queue/state.js";
import type { LatencySummary } from "./latency.js";

/** Each step's wall and CPU milliseconds, and what the last step returned. */
export interface TimedSteps<T> {
  result: T;
  wall: number[];
  cpu: number[];
  /** The main thread's CPU time per step (empty where the system does not tell it). */
  mainCpu: number[];
}

function cpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1_000;
}

/** CPU milliseconds the calling (main) thread ran, from Linux's schedstat; NaN elsewhere. */
function mainCpuMs(): number {
  try {
    return Number(readFileSync("/proc/thread-self/schedstat", "latin1").split(" ")[0]) / 1e6;
  } catch {
    return Number.NaN;
  }
}

export function p99(samples: number[]): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))] ?? 0;
}

export function sum(samples: number[]): number {
  return samples.reduce((a, b) => a + b, 0);
}

/** Runs `step` until it returns non-null; each call's wall and CPU time. */
export function timeSteps<T>(step: () => T | null): TimedSteps<T> {
  const wall: number[] = [];
  const cpu: number[] = [];
  const mainCpu: number[] = [];
  const main = !Number.isNaN(mainCpuMs());
  for (;;) {
    const m = main ? mainCpuMs() : 0;
    const w = performance.now();
    const c = cpuMs();
    const result = step();
    cpu.push(cpuMs() - c);
    wall.push(performance.now() - w);
    if (main) mainCpu.push(mainCpuMs() - m);
    if (result !== null) return { result, wall, cpu, mainCpu };
  }
}

/** The wall-time latency block of a result: p99, max and mean of the slices (no p50/p95). */
export function sliceLatency(steps: TimedSteps<unknown>): LatencySummary {
  return {
    count: steps.wall.length,
    p50: 0,
    p95: 0,
    p99: p99(steps.wall),
    max: Math.max(...steps.wall),
    mean: sum(steps.wall) / steps.wall.length,
  };
}

/**
 * `<name>Slices`, `<name>TotalMs`, and the max and p99 slice in wall and
 * process CPU time, and in the main thread's CPU time where known.
 */
export function sliceMetrics(name: string, steps: TimedSteps<unknown>): Record<string, number> {
  return {
    [`${name}Slices`]: steps.wall.length,
    [`${name}TotalMs`]: sum(steps.wall),
    [`${name}MaxWallMs`]: Math.max(...steps.wall),
    [`${name}P99WallMs`]: p99(steps.wall),
    [`${name}MaxCpuMs`]: Math.max(...steps.cpu),
    [`${name}P99CpuMs`]: p99(steps.cpu),
    ...(steps.mainCpu.length === 0
      ? {}
      : {
          [`${name}MaxMainCpuMs`]: Math.max(...steps.mainCpu),
          [`${name}P99MainCpuMs`]: p99(steps.mainCpu),
        }),
  };
}

/** A checkpoint of `state` encoded and decoded in slices as the log does: the cut, then every step timed. */
export function timeCheckpoint(state: State): {
  cutMs: number;
  encoded: TimedSteps<Uint8Array>;
  decoded: TimedSteps<State>;
} {
  const cutStarted = performance.now();
  const encoder = new SnapshotWriter(state, 0);
  const cutMs = performance.now() - cutStarted;
  const encoded = timeSteps(() => encoder.step());
  const reader = new SnapshotReader(encoded.result);
  return { cutMs, encoded, decoded: timeSteps(() => reader.step()) };
}
