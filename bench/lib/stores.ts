import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { InvalidArgumentError } from "../../src/errors.js";
import { FileStore, type ObjectStore, S3Store } from "../../src/index.js";
import { CountingStore, LatencyStore, MemoryStore, seededRandom } from "../../src/testing.js";
import { radosgwAvailability, startRadosgw } from "../../test/servers/radosgw.js";
import { KeyClassStore } from "./key-classes.js";
import type { StoreTraffic } from "./result.js";

/**
 * The stores a workload can run on: the three every workload runs on, and
 * `radosgw`, a real S3 server (Ceph radosgw on this machine, started for the
 * run) that some workloads also run on, next to the simulated S3-like store.
 */
export const STORE_KINDS = ["memory", "file", "s3like", "radosgw"] as const;
export type StoreKind = (typeof STORE_KINDS)[number];

/**
 * The S3-like store: a fixed 20 ms plus right-skewed jitter of up to 20 ms on
 * every request, so requests take 20–40 ms, 25 ms on average (the jitter
 * is a cubed uniform sample: mean 20/4 ms).
 */
export const S3LIKE_LATENCY = { latencyMs: 20, jitterMs: 20 } as const;

/** A store under test, wrapped so that every request it receives is counted. */
export interface BenchStore {
  kind: StoreKind;
  store: ObjectStore;
  counter: CountingStore;
  /** PUT traffic split by object kind (wal, checkpoint, manifest). */
  classes: KeyClassStore;
  /** The directory of a file store (for reopen in another process). */
  directory?: string;
  /** Remove temporary files. */
  cleanup(): Promise<void>;
}

export function parseStoreKind(raw: string): StoreKind {
  const kind = STORE_KINDS.find((k) => k === raw);
  if (kind === undefined)
    throw new InvalidArgumentError(
      `unknown store "${raw}": expected one of ${STORE_KINDS.join(", ")}`,
    );
  return kind;
}

/**
 * Set to "1" (by `compare`) to leave a file store's directory in place at
 * cleanup: the comparison removes all of its runs' data at its end instead.
 * On a file system that is slow to create files next to ones just deleted
 * (ext4 without a journal passes over recently freed inodes one by one), a
 * run's removal of its WAL objects would slow the next run's creates: a cost
 * of the harness, not of the system measured.
 */
export const KEEP_DATA_ENV = "TAQUBA_BENCH_KEEP_DATA";

export interface BenchStoreOptions {
  /** Parent directory for file stores; default the OS temp dir. */
  baseDir?: string;
  /** Reuse this directory (a file store built by another process) instead of a fresh one. */
  directory?: string;
  /** Seed of the latency jitter. */
  seed?: number;
  /** Wrap this memory store instead of a new one (reopen within a process). */
  memory?: MemoryStore;
}

/**
 * An S3Store on a radosgw started for this run (installed with apt-get when
 * missing), in a fresh bucket; cleanup stops the server and drops its data.
 */
async function radosgwBenchStore(): Promise<BenchStore> {
  const unavailable = await radosgwAvailability();
  if (unavailable !== undefined) throw new Error(`radosgw store unavailable: ${unavailable}`);
  const server = await startRadosgw();
  try {
    const { CreateBucketCommand, S3Client } = await import("@aws-sdk/client-s3");
    const client = new S3Client({
      endpoint: server.endpoint,
      region: server.region,
      forcePathStyle: true,
      credentials: server.credentials,
    });
    await client.send(new CreateBucketCommand({ Bucket: "bench" }));
    client.destroy();
    const s3 = new S3Store({
      bucket: "bench",
      endpoint: server.endpoint,
      region: server.region,
      forcePathStyle: true,
      credentials: server.credentials,
    });
    const classes = new KeyClassStore(s3);
    const counter = new CountingStore(classes);
    return { kind: "radosgw", store: counter, counter, classes, cleanup: server.stop };
  } catch (error) {
    await server.stop();
    throw error;
  }
}

export async function createBenchStore(
  kind: StoreKind,
  options: BenchStoreOptions = {},
): Promise<BenchStore> {
  if (kind === "radosgw") return radosgwBenchStore();
  if (kind === "file") {
    const owned = options.directory === undefined;
    const directory =
      options.directory ?? (await mkdtemp(join(options.baseDir ?? tmpdir(), "taquba-bench-")));
    const classes = new KeyClassStore(new FileStore(directory, { fsync: true }));
    const counter = new CountingStore(classes);
    return {
      kind,
      store: counter,
      counter,
      classes,
      directory,
      cleanup: async () => {
        if (owned && process.env[KEEP_DATA_ENV] !== "1")
          await rm(directory, { recursive: true, force: true });
      },
    };
  }
  const memory = options.memory ?? new MemoryStore();
  const inner =
    kind === "s3like"
      ? new LatencyStore(memory, { ...S3LIKE_LATENCY, random: seededRandom(options.seed ?? 42) })
      : memory;
  const classes = new KeyClassStore(inner);
  const counter = new CountingStore(classes);
  return { kind, store: counter, counter, classes, cleanup: async () => {} };
}

/** Zero the traffic counters (start of a measured phase). */
export function resetTraffic(bench: BenchStore): void {
  bench.counter.reset();
  bench.classes.reset();
}

/** Store traffic counted since the last reset, normalised by `jobs`. */
export function trafficOf(bench: BenchStore, jobs: number): StoreTraffic {
  const { counts, bytesWritten, bytesRead } = bench.counter.snapshot();
  const wal = bench.classes.traffic("wal");
  const perJob = (n: number): number => (jobs > 0 ? n / jobs : 0);
  return {
    puts: counts.put,
    gets: counts.get,
    lists: counts.list,
    deletes: counts.delete,
    heads: counts.head,
    bytesWritten,
    bytesRead,
    putsPerJob: perJob(counts.put),
    bytesWrittenPerJob: perJob(bytesWritten),
    walPutsPerJob: perJob(wal.puts),
    walBytesPerJob: perJob(wal.bytes),
    walPutP50Ms: wal.putLatency.p50,
    walPutP99Ms: wal.putLatency.p99,
    walIdleGapP50Ms: wal.idleGap.p50,
    byClass: bench.classes.all(),
  };
}
