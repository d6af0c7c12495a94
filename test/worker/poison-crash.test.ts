import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { silentLogger } from "../../src/logger.js";
import { Queue } from "../../src/queue/queue.js";
import { FileStore } from "../../src/store/file.js";

const FIXTURE = fileURLToPath(new URL("./fixtures/poison-worker.js", import.meta.url));

/** Runs the fixture once: its output, and whether it died by SIGKILL. */
function runChild(dir: string): Promise<{ output: string; killed: boolean }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [FIXTURE, dir], { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      output += chunk;
    });
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
    });
    child.on("error", reject);
    child.on("close", (code, signal) => {
      if (signal === "SIGKILL") resolve({ output, killed: true });
      else if (code === 0) resolve({ output, killed: false });
      else reject(new Error(`poison worker exited with ${code ?? signal}: ${stderr}`));
    });
  });
}

function open(dir: string): Promise<Queue> {
  return Queue.open(new FileStore(dir, { fsync: false }), "store", { logger: silentLogger });
}

describe("a job that kills its worker process", { timeout: 120_000 }, () => {
  it("counts an attempt every time and ends dead after maxAttempts crashes", async () => {
    const dir = await mkdtemp(join(tmpdir(), "taquba-poison-"));
    try {
      const setup = await open(dir);
      const id = await setup.enqueue("q", "poison", { maxAttempts: 3 });
      await setup.close();

      const attemptsSeen: number[] = [];
      let crashes = 0;
      for (let run = 0; run < 6; run++) {
        const { output, killed } = await runChild(dir);
        for (const match of output.matchAll(/^handling (\S+) (\d+)$/gm)) {
          assert.equal(match[1], id);
          attemptsSeen.push(Number(match[2]));
        }
        if (!killed) break;
        crashes++;
      }
      assert.equal(crashes, 3, `crashed ${crashes} times; attempts seen ${attemptsSeen}`);
      assert.deepEqual(attemptsSeen, [1, 2, 3]);

      const queue = await open(dir);
      const job = await queue.getJob(id);
      assert.equal(job?.status, "dead");
      assert.equal(job?.attempts, 3);
      assert.equal(job?.lastError, "claim interrupted by process exit");
      await queue.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("spends no attempt of the job queued behind it (the default worker holds no claims ready)", async () => {
    const dir = await mkdtemp(join(tmpdir(), "taquba-poison-"));
    try {
      const setup = await open(dir);
      const poison = await setup.enqueue("q", "poison", { maxAttempts: 3 });
      const healthy = await setup.enqueue("q", "healthy", { maxAttempts: 3 });
      await setup.close();

      let output = "";
      for (let run = 0; run < 6; run++) {
        const child = await runChild(dir);
        output += child.output;
        if (!child.killed) break;
      }
      assert.match(output, new RegExp(`^done ${healthy} 1$`, "m"));

      const queue = await open(dir);
      assert.equal((await queue.getJob(poison))?.status, "dead");
      // Done jobs may be dropped at once; if kept, it ran exactly once.
      const job = await queue.getJob(healthy);
      if (job !== null) assert.equal(job.attempts, 1);
      await queue.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
