/**
 * The `kv_slices` workload: how long one slice of a checkpoint's KV section
 * takes to encode and decode with N keys in the KV namespace (and no jobs).
 * The checkpoint is written and read in slices like the job table; this
 * reports the longest and the 99th-percentile slice, in wall and CPU time
 * (on a loaded machine a slice can wait for a core: that is not a stall this
 * process causes), and the whole encode and decode.
 */
import { performance } from "node:perf_hooks";
import { apply } from "../../src/queue/apply.js";
import { Tag } from "../../src/queue/records/tags.js";
import { SnapshotReader } from "../../src/queue/snapshot-decoder.js";
import { SnapshotWriter } from "../../src/queue/snapshot-encoder.js";
import { State } from "../../src/queue/state.js";
import type { Args } from "../lib/args.js";
import { type BenchResult, paramsOf, peakRssMb } from "../lib/result.js";
import type { StoreKind } from "../lib/stores.js";
import type { Workload } from "../lib/workload.js";

export interface KvSlicesParams {
  keys: number;
  valueBytes: number;
}

function cpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1_000;
}

function p99(samples: number[]): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))] ?? 0;
}

/** Runs `step` to completion; each call's wall and CPU time. */
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

export const kvSlices: Workload<KvSlicesParams> = {
  name: "kv_slices",
  describe: "checkpoint slices of the KV section (encode and decode) with N keys",
  params: (args: Args) => ({
    keys: args.number("keys", 1_000_000),
    valueBytes: args.number("value", 64),
  }),
  async run(kind: StoreKind, params: KvSlicesParams): Promise<BenchResult[]> {
    const state = new State();
    const value = new Uint8Array(params.valueBytes);
    for (let i = 0; i < params.keys; i++)
      apply(state, { tag: Tag.KvPut, key: `tenant/${i % 97}/key/${i}`, value });
    const encoder = new SnapshotWriter(state, 0);
    const encoded = timeSteps(() => encoder.step());
    const reader = new SnapshotReader(encoded.result);
    const decoded = timeSteps(() => reader.step());
    if (decoded.result.kv.size !== params.keys) throw new Error("KV section lost keys");
    const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
    return [
      {
        workload: "kv_slices",
        target: kind,
        params: paramsOf(params),
        jobs: params.keys,
        seconds: (sum(encoded.wall) + sum(decoded.wall)) / 1_000,
        jobsPerSec: params.keys / (sum(encoded.wall) / 1_000),
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
          snapshotMb: encoded.result.byteLength / 1_048_576,
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
        },
      },
    ];
  },
};
