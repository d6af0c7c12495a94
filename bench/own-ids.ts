/**
 * Bulk work on jobs with caller-chosen ids (`jobId`) against the same work on
 * generated ids (`npm run bench:own-ids`), on a FileStore (fsync off):
 *
 * - `reopen`: N jobs, all claimed by a writer that is gone. `Queue.open`
 *   settles every one of those claims (each job has `maxAttempts: 1`, so each
 *   goes dead) before it returns.
 * - `requeue`: N dead jobs; `requeueDeadJobs` of `--requeue` of them after an
 *   open.
 *
 * Each store is filled once (kept under `--dir` between runs, reused when
 * present), then every measurement copies it and runs in a child process of
 * its own (a fresh heap), one after the other. With `--close=sigkill` the
 * filling process is killed once its last claims are durable instead of
 * closing, so the open restores the older checkpoint and replays the claims
 * from the WAL, as after a crash.
 *
 * Every open is also measured for turns of the event loop: the longest time
 * the main thread spent on a CPU between two ticks of a 1 ms timer, with and
 * without the GC pauses in it (`lib/turns.ts`), and the three longest gaps
 * (their start in the time base of `--cpu-prof` profiles; `--prof=<dir>`
 * writes one per measurement). `--builds` names compiled
 * trees (each holding `src/index.js`, e.g. another checkout's `build/`) to
 * compare: rounds alternate between them (A, B, A, B, …). The load average
 * is printed with every run.
 *
 * Options: --jobs=1000000 --requeue=250000 --phases=reopen,requeue
 * --ids=own,generated --rounds=3 --dir=<fill cache> --builds=<build>,<build>
 * --close=clean|sigkill --prof=<profile dir> --check-args (check the command line, run nothing)
 */
import { spawn } from "node:child_process";
import { cpSync, existsSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { type Args, parseCommandLine } from "./lib/args.js";
import { type Gap, TurnMeter } from "./lib/turns.js";

type Taquba = typeof import("../src/index.js");
const PHASES = ["reopen", "requeue"] as const;
type Phase = (typeof PHASES)[number];
const ID_KINDS = ["own", "generated"] as const;
const CLOSES = ["clean", "sigkill"] as const;

const OWN_BUILD = fileURLToPath(new URL("..", import.meta.url));
const QUEUE = "q";
const BATCH = 1_000;

interface Measurement {
  build: string;
  phase: Phase;
  ids: string;
  jobs: number;
  openMs: number;
  /** CPU of this process (all threads) during the open. */
  openCpuMs: number;
  requeueMs?: number;
  requeueCpuMs?: number;
  /** Longest on-CPU time of the main thread in one turn during the open, with GC and without. */
  openTurnCpuMs: number;
  openTurnOwnMs: number;
  /** Turns over 20 ms during the open made long by our code (GC pauses not counted). */
  openGapsOurs: number;
  /** The open's three turns with the most of our code: wall, CPU, GC ms and start (µs). */
  openWorst: Gap[];
  load: number;
}

function options(taquba: Taquba) {
  return {
    logger: taquba.silentLogger,
    queueConfigs: { [QUEUE]: { maxAttempts: 1, leaseMs: 100 * 3_600_000 } },
  };
}

/**
 * Fills `directory` with `jobs` claimed (reopen) or dead (requeue) jobs, with
 * own or generated ids, then closes, or with `crash` dies once they are durable.
 */
async function fill(
  taquba: Taquba,
  directory: string,
  phase: Phase,
  own: boolean,
  jobs: number,
  crash: boolean,
) {
  const queue = await taquba.Queue.open(
    new taquba.FileStore(directory, { fsync: false }),
    "p",
    options(taquba),
  );
  // Caller ids in no relation to the enqueue order, as order or request ids are.
  let x = 12_345;
  for (let sent = 0; sent < jobs; sent += BATCH) {
    await queue.transaction((tx) => {
      for (let i = sent; i < Math.min(jobs, sent + BATCH); i++) {
        x = (x * 1_103_515_245 + 12_345) % 2 ** 31;
        tx.enqueue(QUEUE, new Uint8Array(64), own ? { jobId: `order-${x.toString(36)}-${i}` } : {});
      }
    });
  }
  for (let taken = 0; taken < jobs; ) {
    const claims = await queue.claimBatch(QUEUE, BATCH);
    if (claims.length === 0) break;
    taken += claims.length;
    if (phase === "requeue")
      await queue.transaction((tx) => {
        for (const claim of claims) tx.deadLetter(claim, "bench");
      });
  }
  if (crash) {
    await queue.flush();
    process.kill(process.pid, "SIGKILL");
  }
  await queue.close();
}

/** What the parent tells a child process to do (`--child`). */
interface ChildOptions {
  build: string;
  phase: Phase;
  own: boolean;
  jobs: number;
  source: string;
  fill: boolean;
  crash: boolean;
  requeue: number;
}

function childOptions(args: Args): ChildOptions {
  return {
    build: args.string("build", OWN_BUILD),
    phase: args.oneOf("phase", PHASES, "reopen"),
    own: args.oneOf("ids", ID_KINDS, "own") === "own",
    jobs: args.integer("jobs", 1_000_000, 1),
    source: args.string("store", ""),
    fill: args.flag("fill"),
    crash: args.oneOf("close", CLOSES, "clean") === "sigkill",
    requeue: args.integer("requeue", 250_000, 0),
  };
}

/** One measurement, in this (child) process. */
async function measure(child: ChildOptions): Promise<void> {
  const { build, phase, own, jobs, source } = child;
  const taquba = (await import(join(resolve(build), "src/index.js"))) as Taquba;
  if (child.fill) {
    await fill(taquba, source, phase, own, jobs, child.crash);
    return;
  }
  const work = `${source}-run`;
  rmSync(work, { recursive: true, force: true });
  cpSync(source, work, { recursive: true });
  const turns = new TurnMeter(20);
  try {
    await new Promise((resolve) => setTimeout(resolve, 5));
    turns.reset();
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const queue = await taquba.Queue.open(
      new taquba.FileStore(work, { fsync: false }),
      "p",
      options(taquba),
    );
    const openMs = performance.now() - t0;
    const openCpu = process.cpuUsage(cpu0);
    // One more tick of the meter, so that a long last turn of the open is counted.
    await new Promise((resolve) => setTimeout(resolve, 5));
    const openTurns = turns.summary();
    turns.stop();
    const result: Measurement = {
      build,
      phase,
      ids: own ? "own" : "generated",
      jobs,
      openMs: Math.round(openMs),
      openCpuMs: Math.round((openCpu.user + openCpu.system) / 1_000),
      openTurnCpuMs: round1(openTurns.maxCpuMs),
      openTurnOwnMs: round1(openTurns.maxOwnMs),
      openGapsOurs: openTurns.ours,
      openWorst: openTurns.worst.map((g) => ({
        wallMs: round1(g.wallMs),
        cpuMs: round1(g.cpuMs),
        waitMs: round1(g.waitMs),
        gcMs: round1(g.gcMs),
        fromUs: g.fromUs,
      })),
      load: loadavg()[0]!,
    };
    if (phase === "requeue") {
      const cpu1 = process.cpuUsage();
      const t1 = performance.now();
      await queue.requeueDeadJobs(QUEUE, { limit: child.requeue });
      result.requeueMs = Math.round(performance.now() - t1);
      const cpu = process.cpuUsage(cpu1);
      result.requeueCpuMs = Math.round((cpu.user + cpu.system) / 1_000);
    }
    await queue.close();
    process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
  } finally {
    turns.stop();
    rmSync(work, { recursive: true, force: true });
  }
}

function round1(ms: number): number {
  return Math.round(ms * 10) / 10;
}

/** Fills a store in a child process of its own (which may die by SIGKILL on purpose). */
function fillInChild(argv: string[]): Promise<void> {
  return new Promise((done, fail) => {
    const child = spawn(
      process.execPath,
      [fileURLToPath(import.meta.url), "--child", "--fill", ...argv],
      { stdio: ["ignore", "inherit", "inherit"] },
    );
    child.on("error", fail);
    child.on("exit", (code, signal) => {
      if (code === 0 || signal === "SIGKILL") done();
      else fail(new Error(`fill exited with ${code ?? signal}`));
    });
  });
}

function runChild(argv: string[], nodeArgs: readonly string[] = []): Promise<Measurement> {
  return new Promise((done, fail) => {
    const child = spawn(
      process.execPath,
      [...nodeArgs, fileURLToPath(import.meta.url), "--child", ...argv],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    let out = "";
    child.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString();
    });
    child.on("error", fail);
    child.on("exit", (code) => {
      const line = out.split("\n").find((l) => l.startsWith("RESULT "));
      if (code !== 0 || line === undefined) fail(new Error(`measurement exited with ${code}`));
      else done(JSON.parse(line.slice("RESULT ".length)) as Measurement);
    });
  });
}

async function main(): Promise<void> {
  const parsed = parseCommandLine(
    process.argv.slice(2),
    (args) =>
      // A child takes the flags its parent gives it; the command line, the ones below.
      args.flag("child")
        ? { child: childOptions(args) }
        : {
            child: undefined,
            jobs: args.integer("jobs", 1_000_000, 1),
            requeue: args.integer("requeue", 250_000, 0),
            rounds: args.integer("rounds", 3, 1),
            phases: args.listOf("phases", PHASES, PHASES),
            idKinds: args.listOf("ids", ID_KINDS, ID_KINDS),
            builds: args.list("builds", [OWN_BUILD]).map((b) => resolve(b)),
            dir: resolve(args.string("dir", join(tmpdir(), "taquba-own-ids"))),
            close: args.oneOf("close", CLOSES, "clean"),
            prof: args.string("prof", ""),
          },
    "Measures enqueues with caller-chosen job ids against generated ones.",
  );
  if (parsed.child !== undefined) return measure(parsed.child);
  const { jobs, requeue, rounds, phases, idKinds, builds, dir, close, prof } = parsed;
  const nodeArgs =
    prof === "" ? [] : ["--cpu-prof", `--cpu-prof-dir=${resolve(prof)}`, "--cpu-prof-interval=250"];
  const rows: Measurement[] = [];
  for (const phase of phases)
    for (const ids of idKinds) {
      const store = join(dir, `${phase}-${ids}-${jobs}${close === "sigkill" ? "-crash" : ""}`);
      const common = [`--phase=${phase}`, `--ids=${ids}`, `--jobs=${jobs}`, `--store=${store}`];
      if (!existsSync(store))
        await fillInChild([`--build=${builds[0]!}`, `--close=${close}`, ...common]);
      for (let round = 0; round < rounds; round++)
        for (const build of builds) {
          const row = await runChild(
            [`--build=${build}`, `--requeue=${requeue}`, ...common],
            nodeArgs,
          );
          rows.push(row);
          process.stdout.write(`${JSON.stringify(row)}\n`);
        }
    }
  const median = (values: number[]) => values.sort((a, b) => a - b)[values.length >> 1]!;
  process.stdout.write(
    "\nmedians (ms): phase ids build | open wall / cpu | open's longest turn cpu / ours | requeue wall / cpu\n",
  );
  for (const phase of phases)
    for (const ids of idKinds)
      for (const build of builds) {
        const of = rows.filter((r) => r.phase === phase && r.ids === ids && r.build === build);
        const requeueWall = of.map((r) => r.requeueMs ?? 0);
        const requeueCpu = of.map((r) => r.requeueCpuMs ?? 0);
        process.stdout.write(
          `${phase} ${ids} ${build} | ${median(of.map((r) => r.openMs))} / ${median(of.map((r) => r.openCpuMs))}` +
            ` | ${median(of.map((r) => r.openTurnCpuMs))} / ${median(of.map((r) => r.openTurnOwnMs))}` +
            (phase === "requeue" ? ` | ${median(requeueWall)} / ${median(requeueCpu)}` : "") +
            "\n",
        );
      }
}

await main();
