/**
 * A deterministic pseudo-random generator (mulberry32) returning numbers in
 * [0, 1). The same seed always yields the same sequence, so fault and latency
 * schedules in tests and benchmarks are reproducible.
 */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
