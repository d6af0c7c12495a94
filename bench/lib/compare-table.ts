import { fmt } from "./markdown.js";
import type { BenchResult } from "./result.js";

/** The runs of one system at one concurrency, with its best and median run. */
export interface SystemRuns {
  name: string;
  concurrency: number;
  runs: BenchResult[];
  best: BenchResult;
  median: BenchResult;
}

const TAQUBA_STORES = ["file", "memory", "s3like", "radosgw"];

/** A taquba target is a store kind, optionally followed by ` prefetch=N` (claims held ready). */
function taqubaTarget(target: string): { store: string; prefetch?: string } | undefined {
  const [store = "", option] = target.split(" ");
  if (!TAQUBA_STORES.includes(store)) return undefined;
  return { store, prefetch: option?.replace("prefetch=", "") };
}

function displayName(target: string): string {
  const taquba = taqubaTarget(target);
  if (taquba === undefined) return target;
  return taquba.prefetch === undefined
    ? `taquba (${taquba.store} store)`
    : `taquba (${taquba.store} store, \`prefetch: ${taquba.prefetch}\`)`;
}

/** What an acknowledged enqueue survives, per system (as the comparison runs them). */
export function durabilityOf(target: string): string {
  const store = taqubaTarget(target)?.store;
  if (store === "file") return "fsync before ack";
  if (store === "memory") return "none (in memory)";
  if (target.startsWith("bullmq")) return "AOF, appendfsync everysec (≤ 1 s lost on power loss)";
  if (target.startsWith("pg-boss") || target.startsWith("graphile"))
    return "fsync on, synchronous_commit on";
  return "–";
}

/** Group end_to_end runs by system and concurrency, keeping the order they first ran in. */
export function groupRuns(runs: readonly BenchResult[]): SystemRuns[] {
  const groups = new Map<string, BenchResult[]>();
  for (const r of runs) {
    const key = `${r.target}@${r.params.concurrency}`;
    groups.set(key, [...(groups.get(key) ?? []), r]);
  }
  return [...groups.values()].map((series) => {
    const sorted = [...series].sort((a, b) => a.jobsPerSec - b.jobsPerSec);
    const first = series[0] as BenchResult;
    return {
      name: displayName(first.target),
      concurrency: Number(first.params.concurrency),
      runs: series,
      best: sorted[sorted.length - 1] as BenchResult,
      median: sorted[Math.floor(sorted.length / 2)] as BenchResult,
    };
  });
}

/**
 * One table: every system's best run (the one least disturbed by other load on
 * a shared machine) and median, and taquba's (file store) rate over each.
 * "warm-up jobs" is what each run first ran unmeasured ("–": results from
 * before the option, which had none).
 */
export function comparisonTable(runs: readonly BenchResult[]): string {
  const groups = groupRuns(runs);
  const lines = [
    "| system | durability | concurrency | runs | warm-up jobs | end-to-end jobs/s (best) | end-to-end jobs/s (median) | enqueue jobs/s | process jobs/s | taquba file ÷ system, end-to-end | taquba file ÷ system, enqueue | peak RSS MiB | load avg |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
  ];
  const concurrencies = [...new Set(groups.map((g) => g.concurrency))];
  for (const c of concurrencies) {
    const at = groups.filter((g) => g.concurrency === c);
    const ours = at.find((g) => g.best.target === "file")?.best;
    for (const g of at) {
      const r = g.best;
      const ratio = (mine: number | undefined, theirs: number | undefined): string =>
        mine === undefined || theirs === undefined || theirs === 0
          ? "–"
          : `${(mine / theirs).toFixed(2)}×`;
      lines.push(
        `| ${g.name} | ${durabilityOf(r.target)} | ${c} | ${g.runs.length} | ${fmt(r.params.warmup)} | ${fmt(r.jobsPerSec)} | ${fmt(g.median.jobsPerSec)} | ` +
          `${fmt(r.metrics.enqueuePerSec)} | ${fmt(r.metrics.processPerSec)} | ` +
          `${ratio(ours?.jobsPerSec, r.jobsPerSec)} | ` +
          `${ratio(ours?.metrics.enqueuePerSec, r.metrics.enqueuePerSec)} | ` +
          `${fmt(r.peakRssMb)} | ${fmt(r.loadAvg1m)} |`,
      );
    }
  }
  return lines.join("\n");
}
