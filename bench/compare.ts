/**
 * The peer comparison (`npm run bench:compare`): the same end-to-end workloads
 * on taquba (memory and file store, fsync on) and on BullMQ (Redis, AOF with
 * appendfsync everysec), pg-boss and graphile-worker (PostgreSQL, fsync and
 * synchronous_commit on), one system at a time on this machine:
 * - batch: enqueue N in batches, process with concurrency C (no-op handler);
 * - single: P concurrent producers each awaiting its own single enqueue
 *   (the usual pattern in a web app), then process with concurrency C.
 *
 * It installs Debian's redis-server and postgresql if missing, installs the peer
 * libraries (`npm ci --prefix bench/peers`), starts both servers on loopback in
 * temp directories, and stops them and removes their data at the end.
 *
 * Options: --workloads=batch,single
 *          --jobs=50000 --concurrency=32,256 --payload=64 --batch=1000 (batch workload)
 *          --single-jobs=20000 --producers=64 --single-concurrency=64 (single workload)
 *          --taquba-prefetch=N|auto (adds a taquba file-store row whose runWorker holds N
 *          claims ready, or as many as `prefetch: "auto"` measures, instead of none)
 *          --warmup=0 (jobs every system first runs through both phases unmeasured, in a
 *          queue of its own, so the measured phases time warmed-up code, not V8 tiering up)
 *          --repeat=1 (median of R runs) --skip-install --only=taquba,bullmq,pg-boss,graphile
 *          --run-timeout=600 (seconds per run)
 *          --data-dir=<os temp dir> (where the comparison's own data directory goes; every
 *          run's taquba file store stays in it until the comparison ends, then it is
 *          removed; the peers' servers keep their data where they always do)
 *          --pgboss-fetch-batch=100 --pgboss-loops=C --graphile-local-queue=500 (peer tuning)
 *          --check-args (check the command line, run nothing)
 * An unknown flag, system or workload exits with status 2 before anything starts.
 */
import { execFile } from "node:child_process";
import { rmSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { cpus, tmpdir, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { PEERS_DIR } from "./compare/peer-module.js";
import {
  ensureServerPackages,
  type RunningServer,
  startPostgres,
  startRedis,
} from "./compare/servers.js";
import { parseCommandLine, parseCount, UsageError } from "./lib/args.js";
import { runNode } from "./lib/child.js";
import { comparisonTable } from "./lib/compare-table.js";
import { prefetchArg, sharedEndToEndParams } from "./lib/e2e.js";
import { fmt } from "./lib/markdown.js";
import { repoRoot } from "./lib/paths.js";
import { type BenchResult, parseResults } from "./lib/result.js";
import { KEEP_DATA_ENV } from "./lib/stores.js";

const REPO_ROOT = repoRoot();
const here = (file: string) => new URL(file, import.meta.url);
const REDIS_PORT = 6390;
const POSTGRES_PORT = 5439;

const SYSTEMS = ["taquba", "bullmq", "pg-boss", "graphile"] as const;
const WORKLOADS = ["batch", "single"] as const;
/** Peer tuning flags, passed on to the peer's script as its own flag. */
const PASSED_ON = {
  "pgboss-fetch-batch": "fetch-batch",
  "pgboss-loops": "loops",
  "graphile-local-queue": "local-queue",
} as const;

const options = parseCommandLine(
  process.argv.slice(2),
  (args) => {
    // What `base` holds goes to every run. --concurrency takes a list here and --producers is
    // the single workload's (both read below); --prefetch is taquba's alone (--taquba-prefetch).
    const base = sharedEndToEndParams(args);
    const concurrencies = args.list("concurrency", ["32", "256"]).map((c) => {
      const n = parseCount(c);
      if (n === undefined || !Number.isInteger(n) || n < 1)
        throw new UsageError(
          `Expected \`--concurrency\` to be a comma-separated list of integers >= 1, got \`${c}\``,
        );
      return n;
    });
    const passed: Record<string, string | undefined> = {};
    for (const ours of Object.keys(PASSED_ON))
      passed[ours] = args.has(ours) ? String(args.integer(ours, 0, 0)) : undefined;
    return {
      base,
      concurrencies,
      workloads: args.listOf("workloads", WORKLOADS, WORKLOADS),
      single: {
        jobs: args.integer("single-jobs", 20_000, 1),
        concurrency: args.integer("single-concurrency", 64, 1),
        producers: args.integer("producers", 64, 1),
      },
      repeat: args.integer("repeat", 1, 1),
      only: args.listOf("only", SYSTEMS, SYSTEMS),
      /** `runWorker` `prefetch` for an extra taquba file-store row (a count, or `auto`); absent adds none. */
      taqubaPrefetch: args.has("taquba-prefetch")
        ? prefetchArg(args.string("taquba-prefetch", ""))
        : undefined,
      /** A run that takes longer than this is killed (and the comparison fails, stopping the servers). */
      runTimeoutMs: args.number("run-timeout", 600) * 1_000,
      skipInstall: args.flag("skip-install"),
      dataDir: args.string("data-dir", tmpdir()),
      out: args.has("out") ? args.string("out", "") : undefined,
      passed,
    };
  },
  "Compares taquba with BullMQ, pg-boss and Graphile Worker on the same workloads.",
);
const { base, concurrencies, workloads, repeat, only, taqubaPrefetch, runTimeoutMs } = options;
/** One configuration every system runs. */
interface Run {
  workload: "batch" | "single";
  jobs: number;
  concurrency: number;
  producers: number;
}
const plannedRuns: Run[] = [
  ...(workloads.includes("batch")
    ? concurrencies.map((c) => ({
        workload: "batch" as const,
        jobs: base.jobs,
        concurrency: c,
        producers: 0,
      }))
    : []),
  ...(workloads.includes("single") ? [{ workload: "single" as const, ...options.single }] : []),
];
const log = (line: string) => process.stderr.write(`${line}\n`);

interface System {
  name: string;
  enabled: boolean;
  /** Command (script + args) for one run. */
  command(run: Run): { script: URL; args: string[] };
}

const common = (run: Run) => [
  `--jobs=${run.jobs}`,
  `--concurrency=${run.concurrency}`,
  `--payload=${base.payloadBytes}`,
  `--batch=${base.batch}`,
  `--producers=${run.producers}`,
  `--warmup=${base.warmup}`,
  ...(base.flushMs === undefined ? [] : [`--flush-ms=${base.flushMs}`]),
];

/** Forward `--<ours>=v` to a peer script as its own flag. */
const passThrough = (ours: keyof typeof PASSED_ON): string[] => {
  const value = options.passed[ours];
  return value === undefined ? [] : [`--${PASSED_ON[ours]}=${value}`];
};

const servers: RunningServer[] = [];
/** The comparison's data directory (every run's file store), removed at the end. */
let dataRoot: string | undefined;
let stopping: Promise<void> | undefined;
/** Stop every server once; later callers (signal handler, finally) wait for the same stop. */
const stopServers = (): Promise<void> => {
  stopping ??= (async () => {
    for (const server of servers.splice(0).reverse()) await server.stop().catch(() => {});
  })();
  return stopping;
};
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    void stopServers().finally(() => {
      // process.exit skips the main `finally`: the runs' data goes here too.
      if (dataRoot !== undefined) rmSync(dataRoot, { recursive: true, force: true });
      process.exit(130);
    });
  });
}

try {
  const needPeers = only.some((s) => s !== "taquba");
  if (needPeers) {
    await ensureServerPackages(log);
    if (!options.skipInstall) {
      log("installing peer libraries (npm ci --prefix bench/peers)");
      await promisify(execFile)("npm", ["ci", "--prefix", PEERS_DIR, "--no-audit", "--no-fund"], {
        maxBuffer: 64 * 1024 * 1024,
      });
    }
  }
  const redis = only.includes("bullmq") ? await startRedis(REDIS_PORT) : undefined;
  if (redis) servers.push(redis);
  const postgres =
    only.includes("pg-boss") || only.includes("graphile")
      ? await startPostgres(POSTGRES_PORT, ["pgboss_bench", "graphile_bench"])
      : undefined;
  if (postgres) servers.push(postgres);
  for (const server of servers) log(`started ${server.name} ${server.version} at ${server.url}`);

  const systems: System[] = [
    ...(["memory", "file"] as const).map((store) => ({
      name: `taquba/${store}`,
      enabled: only.includes("taquba"),
      command: (run: Run) => ({
        script: here("./run-one.js"),
        args: ["end_to_end", `--store=${store}`, ...common(run)],
      }),
    })),
    {
      // The file store again with claims held ready (`runWorker`'s opt-in `prefetch`), when asked for.
      name: `taquba/file prefetch=${taqubaPrefetch}`,
      enabled: only.includes("taquba") && taqubaPrefetch !== undefined,
      command: (run: Run) => ({
        script: here("./run-one.js"),
        args: ["end_to_end", "--store=file", ...common(run), `--prefetch=${taqubaPrefetch}`],
      }),
    },
    {
      name: "bullmq",
      enabled: redis !== undefined,
      command: (run) => ({
        script: here("./compare/peer-bullmq.js"),
        args: [`--url=${redis?.url}`, ...common(run)],
      }),
    },
    {
      name: "pg-boss",
      enabled: postgres !== undefined && only.includes("pg-boss"),
      command: (run) => ({
        script: here("./compare/peer-pgboss.js"),
        args: [
          `--url=${postgres?.url}/pgboss_bench`,
          ...common(run),
          ...passThrough("pgboss-fetch-batch"),
          ...passThrough("pgboss-loops"),
        ],
      }),
    },
    {
      name: "graphile",
      enabled: postgres !== undefined && only.includes("graphile"),
      command: (run) => ({
        script: here("./compare/peer-graphile.js"),
        args: [
          `--url=${postgres?.url}/graphile_bench`,
          ...common(run),
          ...passThrough("graphile-local-queue"),
        ],
      }),
    },
  ];

  // Repeats go round all systems in turn, so a burst of load from elsewhere on
  // the machine hits every system alike; the table shows each one's best and median run.
  // The runs' file stores go in a directory of the comparison's own and stay until it ends
  // (see KEEP_DATA_ENV): no run creates its files next to the ones a previous run just removed.
  dataRoot = await mkdtemp(join(options.dataDir, "taquba-compare-"));
  const runEnv: NodeJS.ProcessEnv = { ...process.env, TMPDIR: dataRoot, [KEEP_DATA_ENV]: "1" };
  const allRuns: BenchResult[] = [];
  for (let i = 0; i < repeat; i++) {
    for (const run of plannedRuns) {
      for (const system of systems.filter((s) => s.enabled)) {
        const { script, args: runArgs } = system.command(run);
        const [result] = parseResults(
          await runNode(script, runArgs, ["--expose-gc"], runTimeoutMs, runEnv),
        );
        if (result === undefined) throw new Error(`${system.name} printed no result`);
        log(
          `[${i + 1}/${repeat}] ${system.name} ${run.workload} c=${run.concurrency}` +
            `${base.warmup > 0 ? ` warm-up ${base.warmup}` : ""}: ` +
            `${fmt(result.metrics.enqueuePerSec)} enqueues/s, ${fmt(result.jobsPerSec)} jobs/s end-to-end ` +
            `(load ${fmt(result.loadAvg1m)})`,
        );
        allRuns.push(result);
      }
    }
  }
  const machine = {
    node: process.version,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? "unknown",
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    date: new Date().toISOString(),
    servers: servers.map((s) => `${s.name} ${s.version}`),
    repeat,
  };
  const stamp = machine.date.replaceAll(":", "-").replace(/\..*/, "");
  const out = options.out ?? join(REPO_ROOT, ".tmp", "bench", `compare-${stamp}.json`);
  await mkdir(dirname(out), { recursive: true });
  await writeFile(out, `${JSON.stringify({ machine, runs: allRuns }, null, 2)}\n`);
  log(`results: ${out}`);
  const single = allRuns.filter((r) => Number(r.params.producers ?? 0) > 0);
  const batch = allRuns.filter((r) => Number(r.params.producers ?? 0) === 0);
  if (batch.length > 0) process.stdout.write(`Batch enqueue:\n\n${comparisonTable(batch)}\n\n`);
  if (single.length > 0)
    process.stdout.write(`Single enqueues from many producers:\n\n${comparisonTable(single)}\n`);
} finally {
  await stopServers();
  if (dataRoot !== undefined) await rm(dataRoot, { recursive: true, force: true });
}
