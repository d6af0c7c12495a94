/**
 * Seeds of the randomised suites. `TAQUBA_SEED=<n>` replays exactly one seed;
 * otherwise `count` seeds derived from `base` (fixed, so a run is repeatable)
 * or, with `TAQUBA_RANDOM_SEEDS=1`, fresh ones.
 */
export function seedsToRun(count: number, base: number): number[] {
  const pinned = process.env.TAQUBA_SEED;
  if (pinned !== undefined && pinned !== "") {
    const seed = Number(pinned);
    if (!Number.isSafeInteger(seed))
      throw new Error(`TAQUBA_SEED: expected an integer, got ${pinned}`);
    return [seed];
  }
  const start =
    process.env.TAQUBA_RANDOM_SEEDS === "1" ? Math.floor(Math.random() * 2 ** 31) : base;
  return Array.from({ length: count }, (_, i) => (start + i * 7919) >>> 0);
}
