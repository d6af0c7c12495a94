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
import { Args, exitOnUsageError } from "./lib/args.js";
import { emitResult } from "./lib/result.js";
import { prepareRunOne, WORKLOADS } from "./workloads/index.js";

const [name, ...rest] = process.argv.slice(2);
if (name === undefined || name === "--help") {
  const list = WORKLOADS.map((w) => `  ${w.name.padEnd(14)} ${w.describe}`).join("\n");
  process.stderr.write(
    `usage: run-one.js <workload> --store=memory|file|s3like|radosgw [...]\n${list}\n`,
  );
  process.exit(2);
}
const { run, checkOnly } = exitOnUsageError(() => {
  const args = new Args(rest);
  const checkOnly = args.flag("check-args");
  return { run: prepareRunOne(name, args), checkOnly };
});
if (checkOnly) process.exit(0);
for (const result of await run()) emitResult(result);
