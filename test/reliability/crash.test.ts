import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { runCrashRounds } from "./lib/crash.js";
import { seedsToRun } from "./lib/seeds.js";

/** Fast form; the soak (`npm run torture`) runs at least 50 rounds. */
const ROUNDS = 8;
/** Operations the rounds must acknowledge; a loaded machine gets up to 4× the rounds for them. */
const MIN_ACKNOWLEDGED = ROUNDS * 5;

describe("crash: SIGKILL at random moments, then reopen", { timeout: 180_000 }, () => {
  for (const seed of seedsToRun(1, 0xc4a5)) {
    it(`seed ${seed}: ${ROUNDS} rounds keep every acknowledged promise`, async () => {
      const dir = await mkdtemp(join(tmpdir(), "taquba-crash-"));
      try {
        const report = await runCrashRounds(dir, seed, ROUNDS, {
          minAcknowledged: MIN_ACKNOWLEDGED,
          maxRounds: ROUNDS * 4,
        });
        assert.deepEqual(
          report.violations,
          [],
          `seed ${seed} failed; replay with TAQUBA_SEED=${seed}\n${report.violations.join("\n")}`,
        );
        assert.ok(
          report.acknowledged > MIN_ACKNOWLEDGED,
          `only ${report.acknowledged} operations acknowledged in ${report.rounds} rounds`,
        );
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  }
});
