/**
 * The `cancelled_slices` workload: N tombstones of cancelled jobs (and no
 * live jobs). Reports the longest and 99th-percentile slice of a
 * checkpoint's encode and decode, the checkpoint's cut (the frozen view),
 * the longest retention-sweep record (at the most jobs one record holds),
 * and the heap each tombstone costs, in wall and CPU time like `kv_slices`.
 */
import { ulid } from "ulid";
import { apply } from "../../src/queue/apply.js";
import { CancelledJobs } from "../../src/queue/cancelled.js";
import { appendAttempt } from "../../src/queue/history.js";
import { BULK_RECORD_JOBS } from "../../src/queue/records/bulk.js";
import { Tag } from "../../src/queue/records/tags.js";
import { State } from "../../src/queue/state.js";
import type { Args } from "../lib/args.js";
import { type BenchResult, paramsOf, peakRssMb } from "../lib/result.js";
import { p99, sliceLatency, sliceMetrics, sum, timeCheckpoint, timeSteps } from "../lib/slices.js";
import type { StoreKind } from "../lib/stores.js";
import type { Workload } from "../lib/workload.js";

export interface CancelledSlicesParams {
  tombstones: number;
}

const T0 = 1_700_000_000_000;

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
  params: (args: Args) => ({ tombstones: args.integer("tombstones", 1_000_000, 0) }),
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
    const { cutMs, encoded, decoded } = timeCheckpoint(state);
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
    return [
      {
        workload: "cancelled_slices",
        target: kind,
        params: paramsOf(params),
        jobs: n,
        seconds: (sum(encoded.wall) + sum(decoded.wall)) / 1_000,
        jobsPerSec: n / (sum(encoded.wall) / 1_000),
        latencyKind: "slice",
        latency: sliceLatency(encoded),
        peakRssMb: peakRssMb(),
        metrics: {
          ...(Number.isNaN(perTombstone) ? {} : { heapBytesPerTombstone: perTombstone }),
          snapshotMb: encoded.result.byteLength / 1_048_576,
          cutMs,
          ...sliceMetrics("encode", encoded),
          ...sliceMetrics("decode", decoded),
          sweepRecordJobs: BULK_RECORD_JOBS,
          sweepMaxWallMs: Math.max(...sweeps.wall),
          sweepP99WallMs: p99(sweeps.wall),
          sweepMaxCpuMs: Math.max(...sweeps.cpu),
        },
      },
    ];
  },
};
