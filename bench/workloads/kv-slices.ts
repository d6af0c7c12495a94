/**
 * The `kv_slices` workload: how long one slice of a checkpoint's KV section
 * takes to encode and decode with N keys in the KV namespace (and no jobs).
 * The checkpoint is written and read in slices like the job table; this
 * reports the longest and the 99th-percentile slice, in wall and CPU time
 * (on a loaded machine a slice can wait for a core: that is not a stall this
 * process causes), and the whole encode and decode.
 */
import { apply } from "../../src/queue/apply.js";
import { Tag } from "../../src/queue/records/tags.js";
import { State } from "../../src/queue/state.js";
import type { Args } from "../lib/args.js";
import { type BenchResult, paramsOf, peakRssMb } from "../lib/result.js";
import { sliceLatency, sliceMetrics, sum, timeCheckpoint } from "../lib/slices.js";
import type { StoreKind } from "../lib/stores.js";
import type { Workload } from "../lib/workload.js";

export interface KvSlicesParams {
  keys: number;
  valueBytes: number;
}

export const kvSlices: Workload<KvSlicesParams> = {
  name: "kv_slices",
  describe: "checkpoint slices of the KV section (encode and decode) with N keys",
  params: (args: Args) => ({
    keys: args.integer("keys", 1_000_000, 1),
    valueBytes: args.integer("value", 64, 0),
  }),
  async run(kind: StoreKind, params: KvSlicesParams): Promise<BenchResult[]> {
    const state = new State();
    const value = new Uint8Array(params.valueBytes);
    for (let i = 0; i < params.keys; i++)
      apply(state, { tag: Tag.KvPut, key: `tenant/${i % 97}/key/${i}`, value });
    const { encoded, decoded } = timeCheckpoint(state);
    if (decoded.result.kv.size !== params.keys) throw new Error("KV section lost keys");
    return [
      {
        workload: "kv_slices",
        target: kind,
        params: paramsOf(params),
        jobs: params.keys,
        seconds: (sum(encoded.wall) + sum(decoded.wall)) / 1_000,
        jobsPerSec: params.keys / (sum(encoded.wall) / 1_000),
        latencyKind: "slice",
        latency: sliceLatency(encoded),
        peakRssMb: peakRssMb(),
        metrics: {
          snapshotMb: encoded.result.byteLength / 1_048_576,
          ...sliceMetrics("encode", encoded),
          ...sliceMetrics("decode", decoded),
        },
      },
    ];
  },
};
