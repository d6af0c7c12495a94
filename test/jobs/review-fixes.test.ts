import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { ClaimLostError, InvalidArgumentError } from "../../src/errors.js";
import { MAX_ENQUEUE_MANY } from "../../src/queue/options.js";
import { openOn, STORES } from "./stores.js";

const CLAIM_WAIT = fileURLToPath(new URL("./fixtures/claim-wait.js", import.meta.url));

function runScript(args: string[]): Promise<{ code: number | null; stdout: string }> {
  const child = spawn(process.execPath, [CLAIM_WAIT, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  child.stdout.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  const killer = setTimeout(() => child.kill("SIGKILL"), 20_000);
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("exit", (code) => {
      clearTimeout(killer);
      resolve({ code, stdout });
    });
  });
}

for (const kind of STORES) {
  describe(`review fixes on ${kind.name}`, { timeout: 60_000 }, () => {
    it("messages about a job with a caller's jobId name that id, not the generated one", async () => {
      const { queue, clock } = await openOn(kind, { defaultQueueConfig: { leaseMs: 1_000 } });
      await queue.enqueueMany("work", [
        { payload: "a", options: { jobId: "invoice-1" } },
        { payload: "b", options: { jobId: "invoice-2" } },
      ]);
      const [first, second] = await queue.claimBatch("work", 2);
      const cancelled = queue.claimSignal(first!);
      assert.equal(await queue.cancel("invoice-1"), "requested");
      assert.equal((cancelled.reason as Error).message, "job invoice-1 was cancelled");
      assert.equal(
        (queue.claimSignal(first!).reason as Error).message,
        "job invoice-1 was cancelled",
      );
      const expiring = queue.claimSignal(second!);
      clock.advance(1_001);
      await queue.reapNow();
      assert.ok(expiring.reason instanceof ClaimLostError);
      assert.equal((expiring.reason as Error).message, "lease of job invoice-2 expired");
      await assert.rejects(queue.ack(second!), /the claim on job invoice-2 is not live/);
      await queue.close();
    });

    it(`enqueueMany refuses more than MAX_ENQUEUE_MANY (${MAX_ENQUEUE_MANY}) jobs, naming the cap, and writes nothing`, async () => {
      const { queue } = await openOn(kind);
      const jobs = Array.from({ length: MAX_ENQUEUE_MANY + 1 }, (_, i) => ({ payload: `p${i}` }));
      await assert.rejects(queue.enqueueMany("work", jobs), (error: unknown) => {
        assert.ok(error instanceof InvalidArgumentError);
        assert.match(
          error.message,
          /^Expected `jobs` to be an array of at most 10000 jobs \(MAX_ENQUEUE_MANY; .*\), got 10001 jobs$/,
        );
        return true;
      });
      assert.equal((await queue.stats("work")).pending, 0);
      const fits = await queue.enqueueMany("work", jobs.slice(0, MAX_ENQUEUE_MANY));
      assert.equal(fits.length, MAX_ENQUEUE_MANY);
      await queue.close();
    });
  });
}

describe("a script that only awaits a waiting claim", { timeout: 60_000 }, () => {
  it("stays alive until the wait ends: it resolves null after waitMs, or the job that arrives", async () => {
    assert.deepEqual(await runScript(["null"]), { code: 0, stdout: "null\n" });
    assert.deepEqual(await runScript(["enqueue-later"]), { code: 0, stdout: "late\n" });
  });
});
