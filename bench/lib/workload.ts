import type { Args } from "./args.js";
import { holdOpen } from "./process.js";
import type { BenchResult } from "./result.js";
import type { StoreKind } from "./stores.js";

/** A benchmark workload: typed parameters from the command line, then one or more results. */
export interface Workload<P> {
  name: string;
  /** One line for `--help` and the docs. */
  describe: string;
  params(args: Args): P;
  run(store: StoreKind, params: P): Promise<BenchResult[]>;
}

/** Chunks of at most `size` items. */
export function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** A workload with its parameter type hidden: what a command line can run. */
export interface RunnableWorkload {
  name: string;
  describe: string;
  runWithArgs(store: StoreKind, args: Args): Promise<BenchResult[]>;
}

export function runnable<P>(workload: Workload<P>): RunnableWorkload {
  return {
    name: workload.name,
    describe: workload.describe,
    runWithArgs: (store, args) => holdOpen(workload.run(store, workload.params(args))),
  };
}

/** Queue.open options for a run: the library's defaults unless `--flush-ms` was given. */
export function openOptions(flushMs: number | undefined): { flushIntervalMs?: number } {
  return flushMs === undefined ? {} : { flushIntervalMs: flushMs };
}

/** `--flush-ms` (group-commit window) if given. */
export function flushMsArg(args: Args): number | undefined {
  return args.has("flush-ms") ? args.number("flush-ms", 0) : undefined;
}
