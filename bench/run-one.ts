/**
 * Runs one taquba workload on one store and prints its results as `RESULT {json}`
 * lines. The suite starts one process per run so that peak RSS and memory
 * figures belong to that run alone.
 *
 *   node --expose-gc build/bench/run-one.js <workload> --store=memory|file|s3like|radosgw [--param=value ...]
 *
 * A workload takes the flags its parameters read: an unknown flag or a bad value
 * exits with status 2 before anything runs (`--check-args`: check, then exit 0).
 */
import { Args, exitOnUsageError, printUsage } from "./lib/args.js";
import { emitResult } from "./lib/result.js";
import { prepareRunOne, WORKLOADS } from "./workloads/index.js";

const [name, ...rest] = process.argv.slice(2);
const SYNOPSIS = "<workload> --store=memory|file|s3like|radosgw [--param=value ...]";
if (name === "--help" || rest.includes("--help")) {
  const workload = WORKLOADS.find((w) => w.name === name);
  if (workload === undefined)
    printUsage("Runs one workload on one store and prints its results as RESULT lines.", SYNOPSIS, [
      "workloads:",
      ...WORKLOADS.map((w) => `  ${w.name.padEnd(14)} ${w.describe}`),
    ]);
  // The workload's flags: the names it asks about, with none given.
  const names = new Args([]);
  names.flag("check-args");
  try {
    prepareRunOne(workload.name, names);
  } catch {
    // A workload that needs some flag still names the ones it asked about before.
  }
  printUsage(workload.describe, `${workload.name} --store=memory|file|s3like|radosgw [...]`, [
    `flags: ${names
      .known()
      .map((flag) => `--${flag}`)
      .join(", ")}`,
  ]);
}
if (name === undefined) {
  const list = WORKLOADS.map((w) => `  ${w.name.padEnd(14)} ${w.describe}`).join("\n");
  process.stderr.write(`usage: run-one.js ${SYNOPSIS}\n${list}\n`);
  process.exit(2);
}
const { run, checkOnly } = exitOnUsageError(() => {
  const args = new Args(rest);
  const checkOnly = args.flag("check-args");
  return { run: prepareRunOne(name, args), checkOnly };
});
if (checkOnly) process.exit(0);
for (const result of await run()) emitResult(result);
