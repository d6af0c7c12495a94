import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { InvalidArgumentError } from "../../src/errors.js";
import { FileStore, Queue } from "../../src/index.js";
import { listAll } from "../../src/store/types.js";
import { MemoryStore } from "../../src/testing.js";
import type { Args } from "../lib/args.js";
import { killHard, spawnNode, waitExit, waitForLine } from "../lib/child.js";
import { LatencyRecorder } from "../lib/latency.js";
import { collectGarbage, heldBytes } from "../lib/process.js";
import { type BenchResult, paramsOf, peakRssMb } from "../lib/result.js";
import { createBenchStore, resetTraffic, type StoreKind, trafficOf } from "../lib/stores.js";
import type { Workload } from "../lib/workload.js";
import { COLD_PATH, COLD_QUEUE } from "./cold-store.js";

export type CloseMode = "clean" | "sigkill";

export interface ColdStartParams {
  live: number;
  history: number;
  payloadBytes: number;
  mode: CloseMode;
  /** Claims after the first, timed one by one. */
  warmClaims: number;
}

/**
 * A child process builds a file store with `history` acked jobs and `live`
 * pending ones, then closes it cleanly or is killed with SIGKILL. This process
 * reopens it (on the file store itself, or on a memory / S3-like copy of its
 * objects), timing the open and the first claim, and measures the memory the
 * open queue holds per live job (heap + buffers, after a full GC).
 */
export const coldStart: Workload<ColdStartParams> = {
  name: "cold_start",
  describe: "reopen N live jobs + history after clean close or SIGKILL: open time, memory/job",
  params: (args: Args) => {
    const mode = args.oneOf("mode", ["clean", "sigkill"] as const, "clean");
    return {
      live: args.integer("live", 100_000, 0),
      history: args.integer("history", 20_000, 0),
      payloadBytes: args.integer("payload", 64, 0),
      mode,
      warmClaims: args.integer("warm-claims", 1_000, 0),
    };
  },
  async run(kind: StoreKind, params: ColdStartParams): Promise<BenchResult[]> {
    if (kind === "radosgw")
      throw new InvalidArgumentError(
        "cold_start runs on the memory, file and s3like stores (it reopens a copy of a file store)",
      );
    const directory = await mkdtemp(join(tmpdir(), "taquba-cold-"));
    try {
      const buildStart = performance.now();
      await buildInChild(directory, params);
      const buildSeconds = (performance.now() - buildStart) / 1_000;
      const memory = kind === "file" ? undefined : await copyToMemory(directory);
      const bench = await createBenchStore(kind, memory === undefined ? { directory } : { memory });
      const storedBytes = (await listAll(bench.store, `${COLD_PATH}/`)).reduce(
        (sum, o) => sum + o.size,
        0,
      );
      resetTraffic(bench);

      await collectGarbage();
      const heldBefore = heldBytes();
      const rssBefore = process.memoryUsage().rss;
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      const queue = await Queue.open(bench.store, COLD_PATH);
      const t1 = performance.now();
      const cpu = process.cpuUsage(cpu0);
      // Records replayed at open (the WAL tail after the checkpoint) count towards the next checkpoint.
      const replayedRecords = queue.logStats().walRecordsSinceCheckpoint;
      const first = await queue.claim(COLD_QUEUE);
      const t2 = performance.now();
      if (first === null) throw new Error("cold_start: no job to claim after reopen");
      const openTraffic = trafficOf(bench, params.live);
      await collectGarbage();
      const heldAfter = heldBytes();
      const rssAfter = process.memoryUsage().rss;
      const stats = await queue.stats(COLD_QUEUE);

      const warm = new LatencyRecorder();
      for (let i = 0; i < params.warmClaims; i++) {
        const s = performance.now();
        const claim = await queue.claim(COLD_QUEUE);
        warm.record(performance.now() - s);
        if (claim === null) break;
      }
      await queue.close();
      await bench.cleanup();

      const openMs = t1 - t0;
      return [
        {
          workload: "cold_start",
          target: kind,
          params: paramsOf(params),
          jobs: params.live,
          seconds: (t2 - t0) / 1_000,
          jobsPerSec: params.live / ((t2 - t0) / 1_000),
          latencyKind: "warm claim",
          latency: warm.summary(),
          traffic: openTraffic,
          peakRssMb: peakRssMb(),
          metrics: {
            openMs,
            // CPU time of the open (user + system): what the open costs on a machine shared with other work.
            openCpuMs: (cpu.user + cpu.system) / 1_000,
            firstClaimMs: t2 - t1,
            replayedRecords,
            openToFirstClaimMs: t2 - t0,
            heldBytesPerLiveJob: (heldAfter - heldBefore) / params.live,
            rssBytesPerLiveJob: (rssAfter - rssBefore) / params.live,
            livePendingAfterOpen: stats.pending + stats.claimed,
            storedMiB: storedBytes / 1_048_576,
            buildSeconds,
          },
        },
      ];
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  },
};

async function buildInChild(directory: string, params: ColdStartParams): Promise<void> {
  const child = spawnNode(new URL("./cold-start-build.js", import.meta.url), [
    `--dir=${directory}`,
    `--live=${params.live}`,
    `--history=${params.history}`,
    `--payload=${params.payloadBytes}`,
    `--mode=${params.mode}`,
  ]);
  try {
    await waitForLine(child, "READY");
    if (params.mode === "sigkill") await killHard(child);
    else await waitExit(child);
  } finally {
    await killHard(child);
  }
}

/** Load every object of a file store into a new memory store (reads are not part of the test). */
async function copyToMemory(directory: string): Promise<MemoryStore> {
  const source = new FileStore(directory, { fsync: false });
  const target = new MemoryStore();
  for (const object of await listAll(source, "")) {
    const stored = await source.get(object.key);
    if (stored !== null) await target.put(object.key, stored.body);
  }
  return target;
}
