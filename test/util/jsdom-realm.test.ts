// Owns the check that taquba works in a realm that is not Node's own, shaped like Jest's
// `jsdom` test environment (see jsdom-realm.ts): missing globals, timers that return numbers,
// no `AbortSignal.any`, and bytes made by other realms.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const SCRIPT = fileURLToPath(new URL("./jsdom-realm.js", import.meta.url));

function runInRealm(dir: string): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ["--experimental-vm-modules", "--no-warnings", SCRIPT, dir],
      { encoding: "utf8", timeout: 60_000 },
      (error, stdout, stderr) => (error === null ? resolve({ stdout, stderr }) : reject(error)),
    );
  });
}

describe("a realm shaped like Jest's jsdom environment", { timeout: 90_000 }, () => {
  it("opens, fills, works and reopens a MemoryStore and a FileStore queue", async () => {
    const dir = await mkdtemp(join(tmpdir(), "taquba-realm-"));
    try {
      const { stdout, stderr } = await runInRealm(dir);
      const report = JSON.parse(stdout.trim().split("\n").at(-1) ?? "null") as Record<
        string,
        unknown
      > | null;
      assert.ok(report !== null, `no report:\n${stdout}\n${stderr}`);
      assert.equal(report.error, undefined, String(report.error));
      // The realm is as Jest's jsdom environment has it, or the flow proves nothing.
      assert.deepEqual(report.globals, {
        TextEncoder: "undefined",
        TextDecoder: "undefined",
        setImmediate: "undefined",
        timer: "number",
        AbortSignalAny: "undefined",
      });
      const buf = [...Buffer.from("buf")];
      const text = [...Buffer.from("text")];
      for (const store of ["memory", "file"]) {
        assert.deepEqual(
          report[store],
          {
            enqueued: 5,
            claimed: [[1, 2, 3], buf, text],
            worked: [buf, false],
            timedOut: ["TimeoutError", "timed out after 20 ms", "dead", "timed out after 20 ms"],
            done: 3,
            results: [
              [9, 8],
              [9, 8],
              [9, 8],
              [9, 8],
            ],
          },
          store,
        );
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
