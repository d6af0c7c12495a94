import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { runFencing } from "./lib/fencing.js";

/** Fast form; the soak runs many more handovers. */
const HANDOVERS = 5;

describe("fencing: writer processes take over one FileStore in turn", () => {
  it(`${HANDOVERS} handovers: the older always ends FENCED and no acknowledged job is lost`, async () => {
    const dir = await mkdtemp(join(tmpdir(), "taquba-fence-"));
    try {
      const report = await runFencing(dir, HANDOVERS);
      assert.deepEqual(report.violations, []);
      assert.equal(report.handovers, HANDOVERS);
      assert.ok(report.acknowledged >= HANDOVERS * 20, `only ${report.acknowledged} acknowledged`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
