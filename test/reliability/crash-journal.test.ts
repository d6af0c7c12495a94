import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { runChild } from "./lib/crash.js";
import { readJournal } from "./lib/journal.js";

const FLOOD = fileURLToPath(new URL("./fixtures/journal-flood.js", import.meta.url));
/** Far more than a pipe to an idle reader holds (a few hundred small writes). */
const LINES = 20_000;

describe("crash suite: what a killed child recorded reaches the parent", {
  timeout: 60_000,
}, () => {
  it("keeps every line written before SIGKILL, however far behind the parent reads", async () => {
    const dir = await mkdtemp(join(tmpdir(), "taquba-journal-"));
    try {
      // The child writes every line and kills itself within one turn of its event loop:
      // whatever it recorded through its stdout pipe beyond what the pipe holds would be
      // queued inside the child and lost, which is how the crash suite once "lost" jobs
      // whose ack had landed (the "acking" line never arrived).
      const run = await runChild(FLOOD, [String(LINES)], join(dir, "journal.log"), 60_000);
      assert.equal(run.selfKilled, true);
      assert.equal(run.lines.length, LINES, "lines written before the kill are missing");
      for (const [i, line] of run.lines.entries()) assert.equal(line, `line ${i}`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("drops a last line the kill cut short, and reads a missing journal as empty", async () => {
    const dir = await mkdtemp(join(tmpdir(), "taquba-journal-"));
    try {
      const torn = join(dir, "torn.log");
      await writeFile(torn, "enq 1 A work 3\nacking 2 A\nack 2 ");
      assert.deepEqual(readJournal(torn), ["enq 1 A work 3", "acking 2 A"]);
      assert.deepEqual(readJournal(join(dir, "never-written.log")), []);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
