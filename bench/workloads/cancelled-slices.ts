/**
 * The `cancelled_slices` workload: N tombstones of cancelled jobs (and no
 * live jobs). Reports the longest and 99th-percentile slice of a
 * checkpoint's encode and decode, the checkpoint's cut (the frozen view),
 * the longest retention-sweep record (at the most jobs one record holds),
 * and the heap each tombstone costs, in wall and CPU time like `kv_slices`.
 */
import { performance } from "node:perf_hooks";
import { ulid } from "ulid";
import { apply } from "../../src/queue/apply.js";
import { CancelledJobs } from "../../src/queue/cancelled.js";
import { appendAttempt } from "../../src/queue/history.js";
import { BULK_RECORD_JOBS } from "../../src/queue/records/bulk.js";
import { Tag } from "../../src/queue/records/tags.js";
import { SnapshotReader } from "../../src/queue/snapshot-decoder.js";
import { SnapshotWriter } from "../../src/queue/snapshot-encoder.js";
import { State } from "../../src/queue/state.js";
import type { Args } from "../lib/args.js";
import { type BenchResult, paramsOf, peakRssMb } from "../lib/result.js";
import type { StoreKind } from "../lib/stores.js";
import type { Workload } from "../lib/workload.js";

export interface CancelledSlicesParams {
  tombstones: number;
}

const T0 = 1_700_000_000_000;

function cpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1_000;
}

function p99(samples: number[]): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))] ?? 0;
}

/** Runs `step` until it returns non-null; each call's wall and CPU time. */
function timeSteps<T>(step: () => T | null): { result: T; wall: number[]; cpu: number[] } {
  const wall: number[] = [];
  const cpu: number[] = [];
  for (;;) {
    const w = performance.now();
    const c = cpuMs();
    const result = step();
    cpu.push(cpuMs() - c);
    wall.push(performance.now() - w);
    if (result !== null) return { result, wall, cpu };
  }
}

function heapAfterGc(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  gc?.();
  return process.memoryUsage().heapUsed;
}

/** Heap bytes per tombstone of `n` (a retried, then cancelled job each), or NaN without `--expose-gc`. */
function bytesPerTombstone(n: number): number {
  if ((globalThis as { gc?: () => void }).gc === undefined) return Number.NaN;
  const retried = appendAttempt(undefined, {
    attempt: 1,
    claimedAt: T0,
    recordedAt: T0 + 5,
    outcome: "retried",
    error: "timeout",
  });
  const before = heapAfterGc();
  const jobs = new CancelledJobs();
  for (let i = 0; i < n; i++)
    jobs.add(
      ulid(T0 + i),
      i % 4,
      T0 + i,
      appendAttempt(retried, { attempt: 1, recordedAt: T0 + i, outcome: "cancelled" }),
    );
  const bytes = (heapAfterGc() - before) / n;
  if (jobs.size !== n) throw new Error("tombstones lost");
  return bytes;
}

export const cancelledSlices: Workload<CancelledSlicesParams> = {
  name: "cancelled_slices",
  describe: "checkpoint slices, cut and sweep records with N tombstones of cancelled jobs",
  params: (args: Args) => ({ tombstones: args.number("tombstones", 1_000_000) }),
  async run(kind: StoreKind, params: CancelledSlicesParams): Promise<BenchResult[]> {
    const n = params.tombstones;
    const perTombstone = bytesPerTombstone(n);
    const state = new State();
    const payload = Buffer.from("payload");
    for (let i = 0; i < n; i++) {
      const id = ulid(T0 + i);
      apply(state, {
        tag: Tag.Enqueue,
        id,
        queue: `q${i % 4}`,
        payload,
        headers: undefined,
        priority: 0,
        maxAttempts: 3,
        enqueuedAt: T0,
        runAt: undefined,
        dedupKey: undefined,
        ...(i % 2 === 0 ? { jobId: `order-${i}` } : {}),
      });
      apply(state, { tag: Tag.Cancel, id, at: T0 + i });
    }
    if (state.cancelled.size !== n) throw new Error("tombstones lost");
    const cutStarted = performance.now();
    const encoder = new SnapshotWriter(state, 0);
    const cutMs = performance.now() - cutStarted;
    const encoded = timeSteps(() => encoder.step());
    const reader = new SnapshotReader(encoded.result);
    const decoded = timeSteps(() => reader.step());
    if (decoded.result.cancelled.size !== n) throw new Error("checkpoint lost tombstones");
    // Retention sweeps, one record of the most jobs a record holds per step, until none is left.
    let queue = 0;
    const sweeps = timeSteps(() => {
      apply(state, {
        tag: Tag.SweepCancelledSome,
        queue: `q${queue++ % 4}`,
        before: T0 + n,
        limit: BULK_RECORD_JOBS,
      });
      return state.cancelled.size === 0 ? true : null;
    });
    const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
    return [
      {
        workload: "cancelled_slices",
        target: kind,
        params: paramsOf(params),
        jobs: n,
        seconds: (sum(encoded.wall) + sum(decoded.wall)) / 1_000,
        jobsPerSec: n / (sum(encoded.wall) / 1_000),
        latencyKind: "slice",
        latency: {
          count: encoded.wall.length,
          p50: 0,
          p95: 0,
          p99: p99(encoded.wall),
          max: Math.max(...encoded.wall),
          mean: sum(encoded.wall) / encoded.wall.length,
        },
        peakRssMb: peakRssMb(),
        metrics: {
          ...(Number.isNaN(perTombstone) ? {} : { heapBytesPerTombstone: perTombstone }),
          snapshotMb: encoded.result.byteLength / 1_048_576,
          cutMs,
          encodeSlices: encoded.wall.length,
          encodeTotalMs: sum(encoded.wall),
          encodeMaxWallMs: Math.max(...encoded.wall),
          encodeP99WallMs: p99(encoded.wall),
          encodeMaxCpuMs: Math.max(...encoded.cpu),
          encodeP99CpuMs: p99(encoded.cpu),
          decodeSlices: decoded.wall.length,
          decodeTotalMs: sum(decoded.wall),
          decodeMaxWallMs: Math.max(...decoded.wall),
          decodeP99WallMs: p99(decoded.wall),
          decodeMaxCpuMs: Math.max(...decoded.cpu),
          decodeP99CpuMs: p99(decoded.cpu),
          sweepRecordJobs: BULK_RECORD_JOBS,
          sweepMaxWallMs: Math.max(...sweeps.wall),
          sweepP99WallMs: p99(sweeps.wall),
          sweepMaxCpuMs: Math.max(...sweeps.cpu),
        },
      },
    ];
  },
};
