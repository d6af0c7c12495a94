import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { seedsToRun } from "./lib/seeds.js";
import { runSimulation, SLICED_COPY_BYTES } from "./lib/sim.js";

/**
 * A seed replays its run exactly: twice the same seed, the same report, step
 * trace and final store, byte for byte. The simulation draws the library's
 * randomness (ids, object names, write tokens, writer ids, retry jitter) from
 * the seed and runs its slices of bulk work on a clock of the run, so nothing
 * depends on the machine's speed or the system's random source.
 */
const SEEDS = 3;
const STEPS = 120;

describe("simulation replay", { timeout: 60_000 }, () => {
  for (const seed of seedsToRun(SEEDS, 0x7e9a)) {
    it(`seed ${seed}: two runs of ${STEPS} steps are identical`, async () => {
      const first = await runSimulation({ seed, steps: STEPS });
      const second = await runSimulation({ seed, steps: STEPS });
      assert.ok(
        first.largestObjectBytes <= SLICED_COPY_BYTES,
        `seed ${seed} stored a ${first.largestObjectBytes}-byte object: its copies are timed by the process clock`,
      );
      assert.deepEqual(
        second,
        first,
        `seed ${seed} did not replay; rerun with TAQUBA_SEED=${seed}`,
      );
      assert.deepEqual(first.violations, [], `seed ${seed}: ${first.violations.join("\n")}`);
    });
  }
});
