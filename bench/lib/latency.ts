/** Percentiles of a set of latency samples, in milliseconds. */
export interface LatencySummary {
  count: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
}

const EMPTY: LatencySummary = { count: 0, p50: 0, p95: 0, p99: 0, max: 0, mean: 0 };

/**
 * Collects latency samples (milliseconds, fractional) into a growable typed
 * array: recording is an O(1) store with no allocation per sample, so the
 * recorder does not disturb the latencies it measures.
 */
export class LatencyRecorder {
  #samples = new Float64Array(1024);
  #count = 0;

  record(ms: number): void {
    if (this.#count === this.#samples.length) {
      const grown = new Float64Array(this.#samples.length * 2);
      grown.set(this.#samples);
      this.#samples = grown;
    }
    this.#samples[this.#count++] = ms;
  }

  get count(): number {
    return this.#count;
  }

  /** Summary of the samples recorded since `fromIndex` (default: all). */
  summary(fromIndex = 0): LatencySummary {
    return summarize(this.#samples.subarray(fromIndex, this.#count));
  }

  /** Summaries of `parts` consecutive, equally sized slices of the samples, in recording order. */
  slices(parts: number): LatencySummary[] {
    const out: LatencySummary[] = [];
    for (let i = 0; i < parts; i++) {
      const from = Math.floor((i * this.#count) / parts);
      const to = Math.floor(((i + 1) * this.#count) / parts);
      out.push(summarize(this.#samples.subarray(from, to)));
    }
    return out;
  }
}

/** Nearest-rank percentiles of `samples` (not modified). */
export function summarize(samples: Float64Array): LatencySummary {
  if (samples.length === 0) return EMPTY;
  const sorted = Float64Array.from(samples).sort();
  const rank = (p: number): number =>
    sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)] ?? 0;
  let sum = 0;
  for (const value of sorted) sum += value;
  return {
    count: sorted.length,
    p50: rank(0.5),
    p95: rank(0.95),
    p99: rank(0.99),
    max: sorted[sorted.length - 1] ?? 0,
    mean: sum / sorted.length,
  };
}
