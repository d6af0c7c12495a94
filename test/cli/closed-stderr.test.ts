/**
 * The built CLI with its stderr no longer read (`taquba enqueue … 2>&1 | head
 * -1`, a log collector that went away): what it has to say there is dropped,
 * and the command does its work, closes the store it opened and exits as it
 * would otherwise, instead of dying of the write's EPIPE halfway through.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { after, describe, it } from "node:test";
import { DEFAULT_STORE_PATH } from "../../src/cli/defaults.js";
import { QueueReader } from "../../src/queue/reader.js";
import { FileStore } from "../../src/store/file.js";
import { tempDirs } from "./capture.js";
import { BUILT_CLI } from "./child.js";

const temp = tempDirs("taquba-cli-closed-stderr-");
after(temp.removeAll);

/** Runs `taquba <args>` with its stderr closed at once; resolves with its exit code and stdout. */
async function runWithClosedStderr(
  args: readonly string[],
): Promise<{ code: number | null; stdout: string }> {
  const child = spawn(process.execPath, [BUILT_CLI, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  // Nobody reads stderr: the child's first write there fails with EPIPE.
  child.stderr.destroy();
  let stdout = "";
  child.stdout.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
  const [code] = (await once(child, "close")) as [number | null];
  clearTimeout(timer);
  return { code, stdout };
}

describe("the CLI with its stderr closed", { timeout: 60_000 }, () => {
  it("a writing command still does its work, closes the store and exits 0", async () => {
    const dir = await temp.make();
    const out = await runWithClosedStderr(["enqueue", "mail", "hello", "--create", "--store", dir]);
    assert.equal(out.code, 0);
    assert.match(out.stdout, /^\S+\n$/);
    const reader = await QueueReader.open(new FileStore(dir), DEFAULT_STORE_PATH);
    assert.equal(reader.stats("mail").pending, 1);
    assert.equal(reader.inspection.manifest?.closed, true, "the command closed the store");
  });

  it("a failing command exits with its own code", async () => {
    const dir = await temp.make();
    assert.equal((await runWithClosedStderr(["stats", "--store", dir])).code, 1);
    assert.equal((await runWithClosedStderr(["stats", "--limit", "x"])).code, 2);
  });
});
