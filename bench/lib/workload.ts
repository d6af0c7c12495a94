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
  /**
   * Reads the workload's parameters from `args` (a bad or unknown flag throws a
   * `UsageError`, before anything runs) and returns the run, not started yet.
   */
  prepare(store: StoreKind, args: Args): () => Promise<BenchResult[]>;
  /** `prepare`, then the run. */
  runWithArgs(store: StoreKind, args: Args): Promise<BenchResult[]>;
}

export function runnable<P>(workload: Workload<P>): RunnableWorkload {
  const prepare = (store: StoreKind, args: Args) => {
    const params = workload.params(args);
    args.rejectUnknown();
    return () => holdOpen(workload.run(store, params));
  };
  return {
    name: workload.name,
    describe: workload.describe,
    prepare,
    runWithArgs: async (store, args) => prepare(store, args)(),
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
