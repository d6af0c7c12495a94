/**
 * The benchmark suite: `npm run bench` (quick, a few minutes) or
 * `npm run bench -- --full`. Each case runs in its own Node process
 * (`run-one.js`, with `--expose-gc`) so memory figures are per run.
 *
 * Options: --full, --only=claim_drain,cold_start, --stores=memory,file,
 * --out=results.json (default .tmp/bench/<timestamp>.json), --markdown (the tables are
 * printed anyway), --check-args (check the command line, run nothing). An unknown flag,
 * workload or store exits with status 2.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { cpus, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { performance } from "node:perf_hooks";
import { parseCommandLine, UsageError } from "./lib/args.js";
import { runNode } from "./lib/child.js";
import { fmt, markdownReport } from "./lib/markdown.js";
import { repoRoot } from "./lib/paths.js";
import { type BenchResult, parseResults } from "./lib/result.js";
import { STORE_KINDS } from "./lib/stores.js";
import { fullPlan, quickPlan } from "./plans.js";
import { WORKLOADS } from "./workloads/index.js";

const REPO_ROOT = repoRoot();
const RUN_ONE = new URL("./run-one.js", import.meta.url);

const stamp = new Date().toISOString().replaceAll(":", "-").replace(/\..*/, "");
const { full, plan, out } = parseCommandLine(
  process.argv.slice(2),
  (args) => {
    const full = args.flag("full");
    const names = WORKLOADS.map((w) => w.name);
    const only = args.has("only") ? args.listOf("only", names, []) : undefined;
    const stores = args.has("stores") ? args.listOf("stores", STORE_KINDS, []) : undefined;
    // The tables are printed either way; the flag stays for the command lines that name it.
    args.flag("markdown");
    const plan = (full ? fullPlan() : quickPlan()).filter(
      (c) =>
        (only === undefined || only.includes(c.workload)) &&
        (stores === undefined || stores.includes(c.store)),
    );
    if (plan.length === 0)
      throw new UsageError(
        `No ${full ? "full" : "quick"} run of ${only?.join(", ") ?? "any workload"} on ${stores?.join(", ") ?? "any store"}`,
      );
    return {
      full,
      plan,
      out: args.string("out", join(REPO_ROOT, ".tmp", "bench", `${stamp}.json`)),
    };
  },
  "Runs the benchmark suite (the quick plan, or --full) and prints its tables.",
);

process.stderr.write(
  `taquba bench (${full ? "full" : "quick"}): ${plan.length} runs, node ${process.version}, ` +
    `${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB\n`,
);
const results: BenchResult[] = [];
const suiteStart = performance.now();
for (const [i, c] of plan.entries()) {
  const started = performance.now();
  process.stderr.write(
    `[${i + 1}/${plan.length}] ${c.workload} on ${c.store} ${c.args.join(" ")} … `,
  );
  const output = await runNode(
    RUN_ONE,
    [c.workload, `--store=${c.store}`, ...c.args],
    ["--expose-gc"],
  );
  const mine = parseResults(output);
  results.push(...mine);
  const summary = mine
    .map((r) => `${fmt(r.jobsPerSec)} jobs/s, ${r.latencyKind} p99 ${fmt(r.latency.p99)} ms`)
    .join("; ");
  process.stderr.write(`${summary} (${((performance.now() - started) / 1000).toFixed(1)} s)\n`);
}
const elapsed = (performance.now() - suiteStart) / 1_000;
process.stderr.write(`done in ${elapsed.toFixed(0)} s\n`);

await mkdir(dirname(out), { recursive: true });
const machine = {
  node: process.version,
  cpus: cpus().length,
  cpuModel: cpus()[0]?.model ?? "unknown",
  memoryGiB: Math.round(totalmem() / 2 ** 30),
  date: new Date().toISOString(),
  mode: full ? "full" : "quick",
  seconds: elapsed,
};
await writeFile(out, `${JSON.stringify({ machine, results }, null, 2)}\n`);
process.stderr.write(`results: ${out}\n`);
process.stdout.write(`${markdownReport(results)}\n`);
