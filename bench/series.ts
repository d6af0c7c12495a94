/**
 * A series of alternating rounds: what the telemetry's overhead (issue 16)
 * and other small differences are measured with. Each round runs one
 * `run-one.js end_to_end` process per mode, in an order rotated from round to
 * round; each mode is judged against the baseline mode's run of the same
 * round (median of the rounds, bootstrap 95 % interval). Every run's data is
 * kept until the series ends (`TAQUBA_BENCH_KEEP_DATA`) in a directory of the
 * series' own: deleting thousands of WAL files between runs slows the next
 * runs' file creates on some file systems, which would show as noise far
 * larger than the effects measured.
 *
 *   node build/bench/series.js [--rounds=12] [--modes=off,metrics,traces:0.01:parent]
 *     [--baseline=off] [--out=.tmp/bench/series-<time>.jsonl] -- <run-one end_to_end options>
 *
 * An unknown or bad option, on either side of `--`, exits with status 2 before any run
 * (`--check-args`: check the command line, run nothing).
 *
 * A mode is a `--telemetry` value, optionally with a trace sample ratio and
 * `parent` (`--require-parent`): `traces:0.01:parent` is the recommended
 * tracing set-up; `off,off@2` is an A/A series (what the noise alone gives).
 * The order of the modes rotates from round to round and reverses every
 * other round, so that no mode always follows the same one. Example (the file-store series of BENCHMARKS.md):
 *
 *   node build/bench/series.js --rounds=12 -- --store=file --jobs=100000 \
 *     --producers=64 --concurrency=64 --warmup=20000 --requests=0.01
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Args, parseCommandLine, UsageError } from "./lib/args.js";
import { runNode } from "./lib/child.js";
import { type BenchResult, parseResults } from "./lib/result.js";
import { parseSeriesModes } from "./lib/series-modes.js";
import { changesAgainst, median, medianWithInterval } from "./lib/series-stats.js";
import { KEEP_DATA_ENV } from "./lib/stores.js";
import { prepareRunOne } from "./workloads/index.js";

const RUN_ONE = new URL("./run-one.js", import.meta.url);
const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** What a series compares of each run: rates (higher is better) and costs (lower is). */
const MEASURES: ReadonlyArray<{
  name: string;
  kind: "rate" | "cost";
  of: (r: BenchResult) => number | undefined;
}> = [
  { name: "end to end", kind: "rate", of: (r) => r.jobsPerSec },
  { name: "enqueue phase", kind: "rate", of: (r) => r.metrics.enqueuePerSec },
  { name: "processing phase", kind: "rate", of: (r) => r.metrics.processPerSec },
  { name: "CPU per enqueued job", kind: "cost", of: (r) => r.metrics.enqueueCpuMicrosPerJob },
  { name: "CPU per processed job", kind: "cost", of: (r) => r.metrics.processCpuMicrosPerJob },
];

function fixed(value: number, digits = 1): string {
  return value.toFixed(digits);
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const split = argv.indexOf("--");
  const passed = split < 0 ? [] : argv.slice(split + 1);
  const stamp = new Date().toISOString().replaceAll(":", "-").replace(/\..*/, "");
  const { rounds, modes, baseline, out } = parseCommandLine(
    split < 0 ? argv : argv.slice(0, split),
    (own) => {
      const rounds = own.integer("rounds", 12, 1);
      const modes = parseSeriesModes(own.string("modes", "off,metrics,traces:0.01:parent"));
      const baseline = own.string("baseline", modes[0]!.label);
      if (!modes.some((m) => m.label === baseline))
        throw new UsageError(
          `Expected \`--baseline\` to be one of the modes (${modes.map((m) => m.label).join(", ")}), got \`${baseline}\``,
        );
      // What follows `--` goes to every run: checked now, with each mode's own options.
      for (const mode of modes) prepareRunOne("end_to_end", new Args([...passed, ...mode.args]));
      return {
        rounds,
        modes,
        baseline,
        out: own.string("out", join(REPO_ROOT, ".tmp", "bench", `series-${stamp}.jsonl`)),
      };
    },
    "Runs end_to_end in rounds under several telemetry modes and compares them.",
  );
  mkdirSync(dirname(out), { recursive: true });
  const dataDir = mkdtempSync(join(tmpdir(), "taquba-series-"));
  // Interrupted, the series still removes its data (gigabytes, for long runs).
  const interrupted = (signal: NodeJS.Signals): void => {
    rmSync(dataDir, { recursive: true, force: true });
    process.kill(process.pid, signal);
  };
  process.once("SIGINT", interrupted);
  process.once("SIGTERM", interrupted);
  const env = { ...process.env, TMPDIR: dataDir, [KEEP_DATA_ENV]: "1" };
  const byMode = new Map<string, BenchResult[]>(modes.map((m) => [m.label, []]));
  const perRound: Array<Map<string, BenchResult>> = [];
  const lines: string[] = [];
  process.stdout.write(
    `# series: ${rounds} rounds of ${modes.map((m) => m.label).join(", ")}; run-one end_to_end ${passed.join(" ")}; load ${fixed(loadavg()[0] ?? 0, 2)}\n`,
  );
  try {
    for (let round = 0; round < rounds; round++) {
      const results = new Map<string, BenchResult>();
      for (let k = 0; k < modes.length; k++) {
        const turn = round % 2 === 0 ? k : modes.length - 1 - k;
        const mode = modes[(turn + round) % modes.length]!;
        const output = await runNode(RUN_ONE, ["end_to_end", ...passed, ...mode.args], [], 0, env);
        const [result] = parseResults(output);
        if (result === undefined) throw new Error(`run-one printed no result for ${mode.label}`);
        results.set(mode.label, result);
        byMode.get(mode.label)!.push(result);
        lines.push(JSON.stringify({ round, mode: mode.label, result }));
      }
      perRound.push(results);
      const summary = modes
        .map((m) => `${m.label} ${Math.round(results.get(m.label)!.jobsPerSec)}/s`)
        .join(", ");
      process.stdout.write(`round ${round + 1}/${rounds}: ${summary}\n`);
    }
  } finally {
    writeFileSync(out, `${lines.join("\n")}\n`);
    rmSync(dataDir, { recursive: true, force: true });
  }
  process.stdout.write(`\nraw results: ${out}\n`);
  if (rounds < 6)
    process.stdout.write(
      `(${rounds} rounds: the intervals below mean little; series of record use 12 or more)\n`,
    );
  for (const mode of modes) {
    const results = byMode.get(mode.label)!;
    const gaps = results
      .map((r) => r.traffic?.walIdleGapP50Ms)
      .filter((g): g is number => g !== undefined);
    const gap = gaps.length === 0 ? "" : `, WAL idle gap p50 ${fixed(median(gaps), 3)} ms`;
    process.stdout.write(
      `\n${mode.label}: end to end ${Math.round(median(results.map((r) => r.jobsPerSec)))} jobs/s (median)${gap}\n`,
    );
    if (mode.label === baseline) continue;
    for (const measure of MEASURES) {
      const values = perRound.map(
        (round) =>
          new Map(
            [...round].flatMap(([label, r]) => {
              const v = measure.of(r);
              return v === undefined ? [] : [[label, v] as const];
            }),
          ),
      );
      const changes = changesAgainst(values, mode.label, baseline, measure.kind);
      if (changes.length === 0) continue;
      const { median: m, low, high } = medianWithInterval(changes);
      const word = measure.kind === "rate" ? "slower" : "more";
      process.stdout.write(
        `  ${measure.name.padEnd(22)} ${fixed(m).padStart(6)} % ${word} than ${baseline} [${fixed(low)}, ${fixed(high)}] (${changes.length} rounds)\n`,
      );
    }
  }
}

await main();
