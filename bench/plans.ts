import type { StoreKind } from "./lib/stores.js";

/** One run of one workload on one store, with its command-line parameters. */
export interface BenchCase {
  workload: string;
  store: StoreKind;
  args: string[];
}

const STORES: readonly StoreKind[] = ["memory", "file", "s3like"];

function onEach(workload: string, args: (store: StoreKind) => string[]): BenchCase[] {
  return STORES.map((store) => ({ workload, store, args: args(store) }));
}

/**
 * Workers (claim→ack loops) per store. A worker holds its slot until its ack
 * is durable, so one worker carries at most 1 / (time to a durable ack) jobs/s:
 * a few milliseconds on the memory store (the group-commit window), a few
 * fsyncs on the file store, two 20–40 ms PUTs on the S3-like store. In-process
 * workers are cheap, so each store gets enough that the store, not the worker
 * count, sets the pace.
 */
const WORKERS: Record<StoreKind, number> = { memory: 256, file: 1024, s3like: 1024, radosgw: 1024 };
/** Closed-loop producers for the ceiling runs, sized the same way. */
const PRODUCERS: Record<StoreKind, number> = {
  memory: 64,
  file: 256,
  s3like: 512,
  radosgw: 512,
};

const slow = (store: StoreKind): boolean => store === "s3like" || store === "radosgw";

/**
 * The simulated S3-like store's real twin: the workloads that characterise an
 * S3 deployment (steady arrivals, the end-to-end comparison) on Ceph radosgw,
 * sized like their S3-like runs.
 */
function onRadosgw(seconds: number, e2eJobs: number): BenchCase[] {
  return [
    {
      workload: "steady_state",
      store: "radosgw",
      args: ["--rate=1000", `--seconds=${seconds}`, `--workers=${WORKERS.radosgw}`],
    },
    {
      workload: "end_to_end",
      store: "radosgw",
      args: [`--jobs=${e2eJobs}`, "--concurrency=1024"],
    },
  ];
}

/**
 * The quick suite (`npm run bench`): every workload on every store, sized to
 * finish in about five minutes on 2 cores. The S3-like store gets fewer jobs
 * where a run would otherwise take minutes.
 */
export function quickPlan(): BenchCase[] {
  return [
    ...onEach("claim_drain", (s) => [`--jobs=${slow(s) ? 20_000 : 100_000}`, "--workers=50"]),
    // The same drain with batch claims: 8 loops of claimBatch(100), as runWorker would.
    ...onEach("claim_batch", (s) => [
      `--jobs=${slow(s) ? 20_000 : 100_000}`,
      "--workers=8",
      "--batch=100",
    ]),
    ...onEach("steady_state", (s) => [
      `--rate=${slow(s) ? 1_000 : 5_000}`,
      "--seconds=10",
      `--workers=${WORKERS[s]}`,
    ]),
    ...onEach("steady_state", (s) => [
      slow(s) ? "--schedule=5:1000,5:5000,5:8000" : "--schedule=5:2000,5:10000,5:20000",
      `--workers=${WORKERS[s]}`,
      "--label=ramp",
    ]),
    {
      workload: "steady_state",
      store: "s3like",
      args: ["--rate=5000", "--seconds=10", "--workers=1024"],
    },
    ...onEach("ceiling", (s) => [
      "--seconds=8",
      `--producers=${PRODUCERS[s]}`,
      `--workers=${2 * WORKERS[s]}`,
    ]),
    ...onEach("cold_start", () => ["--live=100000", "--history=20000", "--mode=clean"]),
    {
      workload: "cold_start",
      store: "file",
      args: ["--live=100000", "--history=20000", "--mode=sigkill"],
    },
    // Rust taquba's published cold_start case: 20 000 jobs of history, 100 live.
    {
      workload: "cold_start",
      store: "s3like",
      args: ["--live=100", "--history=20000", "--mode=clean"],
    },
    ...onEach("payload_sweep", (s) =>
      slow(s)
        ? [
            "--bytes-per-size=16m",
            "--max-jobs=10000",
            "--min-jobs=100",
            "--producers=256",
            "--workers=256",
          ]
        : ["--bytes-per-size=32m", "--max-jobs=20000", "--min-jobs=200"],
    ),
    // 1 MiB payloads, offload on (the default) vs off: write amplification, memory per live job.
    ...(["memory", "file"] as const).map((store) => ({
      workload: "payload_offload",
      store,
      args: ["--jobs=200", "--live=200"],
    })),
    ...onEach("end_to_end", (s) =>
      slow(s) ? ["--jobs=20000", "--concurrency=1024"] : ["--jobs=100000", "--concurrency=256"],
    ),
    // Claims under a rate limit (achieved vs the limit), and a quiet tenant beside a noisy
    // tenant's 1M-job backlog with and without fair groups.
    {
      workload: "rate_limit",
      store: "memory",
      args: ["--max=500", "--per-ms=1000", "--seconds=5"],
    },
    { workload: "rate_limit", store: "file", args: ["--max=200", "--per-ms=1000", "--seconds=5"] },
    { workload: "fair_groups", store: "memory", args: ["--noisy=1000000", "--quiet=200"] },
    // Pipeline steps: each job settled by 1 ack + 3 enqueues + 2 KV writes in one transaction.
    {
      workload: "transactions",
      store: "file",
      args: ["--jobs=20000", "--workers=64"],
    },
    {
      workload: "transactions",
      store: "s3like",
      args: ["--jobs=10000", "--workers=512"],
    },
    { workload: "kv_slices", store: "memory", args: ["--keys=200000"] },
    ...onRadosgw(10, 20_000),
  ];
}

/** The full suite (`npm run bench -- --full`): 1M-job cold starts, longer and larger runs. */
export function fullPlan(): BenchCase[] {
  return [
    ...onEach("claim_drain", (s) => [`--jobs=${slow(s) ? 50_000 : 500_000}`, "--workers=50"]),
    ...onEach("claim_batch", (s) => [
      `--jobs=${slow(s) ? 50_000 : 500_000}`,
      "--workers=8",
      "--batch=100",
    ]),
    ...onEach("steady_state", (s) => [
      `--rate=${slow(s) ? 1_000 : 10_000}`,
      "--seconds=60",
      `--workers=${WORKERS[s]}`,
    ]),
    ...onEach("steady_state", (s) => [
      slow(s)
        ? "--schedule=20:1000,20:3000,20:5000,20:8000,20:1000"
        : "--schedule=20:2000,20:10000,20:20000,20:30000,20:2000",
      `--workers=${WORKERS[s]}`,
      "--label=ramp",
    ]),
    {
      workload: "steady_state",
      store: "s3like",
      args: ["--rate=5000", "--seconds=60", "--workers=1024"],
    },
    ...onEach("ceiling", (s) => [
      "--seconds=30",
      "--warmup=5",
      `--producers=${PRODUCERS[s]}`,
      `--workers=${2 * WORKERS[s]}`,
    ]),
    ...onEach("cold_start", () => ["--live=1000000", "--history=100000", "--mode=clean"]),
    {
      workload: "cold_start",
      store: "file",
      args: ["--live=1000000", "--history=100000", "--mode=sigkill"],
    },
    ...onEach("payload_sweep", (s) =>
      slow(s)
        ? [
            "--bytes-per-size=64m",
            "--max-jobs=20000",
            "--min-jobs=500",
            "--producers=256",
            "--workers=256",
          ]
        : ["--bytes-per-size=256m", "--max-jobs=100000", "--min-jobs=1000"],
    ),
    ...onEach("end_to_end", (s) =>
      slow(s) ? ["--jobs=100000", "--concurrency=1024"] : ["--jobs=500000", "--concurrency=256"],
    ),
    ...onRadosgw(60, 100_000),
  ];
}
