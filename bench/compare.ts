/**
 * The peer comparison (`npm run bench:compare`): the same end-to-end workload
 * (enqueue N in batches, process with concurrency C, no-op handler, same
 * payload) on taquba (memory and file store) and on BullMQ (Redis), pg-boss and
 * graphile-worker (PostgreSQL), one system at a time on this machine.
 *
 * It installs Debian's redis-server and postgresql if missing, installs the peer
 * libraries (`npm ci --prefix bench/peers`), starts both servers on loopback in
 * temp directories, and stops them and removes their data at the end.
 *
 * Options: --jobs=50000 --concurrency=32,256 --payload=64 --batch=1000
 *          --repeat=1 (median of R runs) --skip-install --only=taquba,bullmq,pg-boss,graphile
 *          --run-timeout=600 (seconds per run)
 *          --pgboss-fetch-batch=100 --pgboss-loops=C --graphile-local-queue=500 (peer tuning)
 */
import { execFile } from "node:child_process";
import { mkdir, writeFile } from "node:fs/promises";
import { cpus, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { PEERS_DIR } from "./compare/peer-module.js";
import {
  ensureServerPackages,
  type RunningServer,
  startPostgres,
  startRedis,
} from "./compare/servers.js";
import { Args } from "./lib/args.js";
import { runNode } from "./lib/child.js";
import { comparisonTable } from "./lib/compare-table.js";
import { endToEndParams } from "./lib/e2e.js";
import { fmt } from "./lib/markdown.js";
import { repoRoot } from "./lib/paths.js";
import { type BenchResult, parseResults } from "./lib/result.js";

const REPO_ROOT = repoRoot();
const here = (file: string) => new URL(file, import.meta.url);
const REDIS_PORT = 6390;
const POSTGRES_PORT = 5439;

const args = new Args(process.argv.slice(2));
// --concurrency takes a list here, so the shared parser reads everything else.
const base = endToEndParams(
  new Args(process.argv.slice(2).filter((a) => !a.startsWith("--concurrency"))),
);
const concurrencies = args.list("concurrency", ["32", "256"]).map(Number);
const repeat = Math.max(1, args.number("repeat", 1));
const only = args.list("only", ["taquba", "bullmq", "pg-boss", "graphile"]);
/** A run that takes longer than this is killed (and the comparison fails, stopping the servers). */
const runTimeoutMs = args.number("run-timeout", 600) * 1_000;
const log = (line: string) => process.stderr.write(`${line}\n`);

interface System {
  name: string;
  enabled: boolean;
  /** Command (script + args) for one run at concurrency `c`. */
  command(c: number): { script: URL; args: string[] };
}

const common = (c: number) => [
  `--jobs=${base.jobs}`,
  `--concurrency=${c}`,
  `--payload=${base.payloadBytes}`,
  `--batch=${base.batch}`,
  ...(base.flushMs === undefined ? [] : [`--flush-ms=${base.flushMs}`]),
];

/** Forward `--<ours>=v` to a peer script as `--<theirs>=v`. */
const passThrough = (ours: string, theirs: string): string[] =>
  args.has(ours) ? [`--${theirs}=${args.string(ours, "")}`] : [];

const servers: RunningServer[] = [];
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
    void stopServers().finally(() => process.exit(130));
  });
}

try {
  const needPeers = only.some((s) => s !== "taquba");
  if (needPeers) {
    await ensureServerPackages(log);
    if (!args.flag("skip-install")) {
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
      command: (c: number) => ({
        script: here("./run-one.js"),
        args: ["end_to_end", `--store=${store}`, ...common(c)],
      }),
    })),
    {
      name: "bullmq",
      enabled: redis !== undefined,
      command: (c) => ({
        script: here("./compare/peer-bullmq.js"),
        args: [`--url=${redis?.url}`, ...common(c)],
      }),
    },
    {
      name: "pg-boss",
      enabled: postgres !== undefined && only.includes("pg-boss"),
      command: (c) => ({
        script: here("./compare/peer-pgboss.js"),
        args: [
          `--url=${postgres?.url}/pgboss_bench`,
          ...common(c),
          ...passThrough("pgboss-fetch-batch", "fetch-batch"),
          ...passThrough("pgboss-loops", "loops"),
        ],
      }),
    },
    {
      name: "graphile",
      enabled: postgres !== undefined && only.includes("graphile"),
      command: (c) => ({
        script: here("./compare/peer-graphile.js"),
        args: [
          `--url=${postgres?.url}/graphile_bench`,
          ...common(c),
          ...passThrough("graphile-local-queue", "local-queue"),
        ],
      }),
    },
  ];

  // Repeats go round all systems in turn, so a burst of load from elsewhere on
  // the machine hits every system alike; the table shows each one's best and median run.
  const allRuns: BenchResult[] = [];
  for (let i = 0; i < repeat; i++) {
    for (const c of concurrencies) {
      for (const system of systems.filter((s) => s.enabled)) {
        const { script, args: runArgs } = system.command(c);
        const [result] = parseResults(
          await runNode(script, runArgs, ["--expose-gc"], runTimeoutMs),
        );
        if (result === undefined) throw new Error(`${system.name} printed no result`);
        log(
          `[${i + 1}/${repeat}] ${system.name} c=${c}: ${fmt(result.jobsPerSec)} jobs/s end-to-end ` +
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
  const out = args.string("out", join(REPO_ROOT, ".tmp", "bench", `compare-${stamp}.json`));
  await mkdir(dirname(out), { recursive: true });
  await writeFile(out, `${JSON.stringify({ machine, runs: allRuns }, null, 2)}\n`);
  log(`results: ${out}`);
  process.stdout.write(`${comparisonTable(allRuns)}\n`);
} finally {
  await stopServers();
}
