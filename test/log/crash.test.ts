import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { openLog } from "../../src/log/index.js";
import { FileStore } from "../../src/store/file.js";
import { decodeNumbers } from "./fixtures/numbers.js";
import { testOptions } from "./helpers.js";

const WRITER = fileURLToPath(new URL("./fixtures/crash-writer.js", import.meta.url));
const ROUNDS = 20;

/** Runs the writer until a random moment after it is ready, SIGKILLs it, returns what it acked. */
function runAndKill(dir: string, killAfterMs: number): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [WRITER, dir], { stdio: ["pipe", "pipe", "pipe"] });
    const acked: number[] = [];
    let buffered = "";
    let stderr = "";
    let killed = false;
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (chunk: string) => {
      buffered += chunk;
      const lines = buffered.split("\n");
      buffered = lines.pop()!;
      for (const line of lines) {
        if (line === "ready" && !killed) {
          killed = true;
          setTimeout(() => child.kill("SIGKILL"), killAfterMs);
        } else if (line.startsWith("ack ")) acked.push(Number(line.slice(4)));
      }
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on("error", reject);
    child.on("close", (_code, signal) => {
      if (signal !== "SIGKILL") reject(new Error(`writer exited on its own: ${stderr}`));
      else resolve(acked);
    });
  });
}

// Each round starts a writer process (about 0.1 s before it is ready), kills it and replays the
// log: 3 s in all on an idle machine, 62 s seen on a busy one. Fewer rounds would test fewer
// crash points, so the budget is nearly 4 times the slowest run seen, below the runner's 300 s.
describe("log crash safety", { timeout: 240_000 }, () => {
  it(`replays every acknowledged record, in order, once, after ${ROUNDS} SIGKILLs`, async () => {
    const dir = await mkdtemp(join(tmpdir(), "taquba-crash-"));
    try {
      let totalAcked = 0;
      for (let round = 0; round < ROUNDS; round++) {
        const acked = await runAndKill(dir, Math.floor(Math.random() * 60));
        totalAcked += acked.length;
        const { log, checkpoint, records } = await openLog(
          new FileStore(dir, { fsync: false }),
          "log",
          testOptions(),
        );
        const replayed = checkpoint === null ? [] : decodeNumbers(checkpoint);
        for (const record of records) replayed.push(...decodeNumbers(record));
        // In order and without duplicates: strictly increasing from 1 with no holes.
        for (const [i, n] of replayed.entries()) {
          assert.equal(n, i + 1, `position ${i} in round ${round}`);
        }
        const last = replayed.at(-1) ?? 0;
        for (const n of acked) assert.ok(n <= last, `acknowledged ${n} was lost in round ${round}`);
        await log.close();
      }
      assert.ok(totalAcked > 0, "no record was acknowledged in any round");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
