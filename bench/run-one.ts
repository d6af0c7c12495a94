/**
 * Runs one taquba workload on one store and prints its results as `RESULT {json}`
 * lines. The suite starts one process per run so that peak RSS and memory
 * figures belong to that run alone.
 *
 *   node --expose-gc build/bench/run-one.js <workload> --store=memory|file|s3like|radosgw [--param=value ...]
 */
import { Args } from "./lib/args.js";
import { emitResult } from "./lib/result.js";
import { parseStoreKind } from "./lib/stores.js";
import { findWorkload, WORKLOADS } from "./workloads/index.js";

const [name, ...rest] = process.argv.slice(2);
const workload = name === undefined ? undefined : findWorkload(name);
if (workload === undefined) {
  const list = WORKLOADS.map((w) => `  ${w.name.padEnd(14)} ${w.describe}`).join("\n");
  process.stderr.write(
    `usage: run-one.js <workload> --store=memory|file|s3like|radosgw [...]\n${list}\n`,
  );
  process.exit(2);
}
const args = new Args(rest);
const store = parseStoreKind(args.string("store", "memory"));
for (const result of await workload.runWithArgs(store, args)) emitResult(result);
