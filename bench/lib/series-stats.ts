/**
 * Statistics of a series of benchmark rounds: each round runs every mode once,
 * and a mode is judged by its change against the baseline run of the same
 * round (so that drift in the machine falls on both), summarised as the median
 * with a bootstrap 95 % interval. The resampling is seeded: the same rounds
 * always give the same interval.
 */
import { seededRandom } from "../../src/util/random.js";

/** The median of `values` (the mean of the two middle ones for an even count). */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new Error("Expected at least one value, got none");
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** The median of `values` and a bootstrap 95 % interval of it (`resamples` draws, seeded). */
export function medianWithInterval(
  values: readonly number[],
  resamples = 5_000,
  seed = 1,
): { median: number; low: number; high: number } {
  const random = seededRandom(seed);
  const medians: number[] = [];
  const draw = new Array<number>(values.length);
  for (let r = 0; r < resamples; r++) {
    for (let i = 0; i < values.length; i++) draw[i] = values[Math.floor(random() * values.length)]!;
    medians.push(median(draw));
  }
  medians.sort((a, b) => a - b);
  return {
    median: median(values),
    low: medians[Math.floor(0.025 * resamples)]!,
    high: medians[Math.min(resamples - 1, Math.floor(0.975 * resamples))]!,
  };
}

/**
 * Per round, how much slower `mode` was than `baseline` in percent (a rate:
 * higher is better), or how much more it cost (a cost: lower is better).
 * Rounds missing either value are left out.
 */
export function changesAgainst(
  rounds: ReadonlyArray<ReadonlyMap<string, number>>,
  mode: string,
  baseline: string,
  kind: "rate" | "cost",
): number[] {
  const changes: number[] = [];
  for (const round of rounds) {
    const value = round.get(mode);
    const base = round.get(baseline);
    if (value === undefined || base === undefined || base === 0) continue;
    changes.push(kind === "rate" ? 100 * (1 - value / base) : 100 * (value / base - 1));
  }
  return changes;
}
