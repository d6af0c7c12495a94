import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { describe, it } from "node:test";
import { killRunning, run, start } from "./process-group.js";
import { until } from "./until.js";

/** Whether process `pid` still runs (a zombie, ended but not yet reaped, does not). */
function alive(pid: number): boolean {
  const stat = `/proc/${pid}/stat`;
  if (existsSync("/proc/self/stat")) {
    try {
      return !/^\d+ \(.*\) Z /.test(readFileSync(stat, "utf8"));
    } catch {
      return false;
    }
  }
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A shell that starts two sleeps, one in the background, and prints both of their pids. */
const SLEEPERS = "sleep 37 & echo $!; sh -c 'echo $$; exec sleep 38'";

const pidsIn = (stdout: string): number[] => stdout.trim().split("\n").map(Number);

describe("a command run in a process group of its own", () => {
  it("at its deadline, kills the command and everything it started", async () => {
    const started = performance.now();
    const result = await run("sh", ["-c", SLEEPERS], {
      cwd: tmpdir(),
      env: process.env,
      timeoutMs: 1000,
    });
    assert.ok(performance.now() - started < 10_000, "the run outlived its deadline");
    assert.match(result.stderr, /\(killed: no end within 1000 ms\)$/);
    assert.equal(result.killed, "no end within 1000 ms");
    assert.equal(result.code, null, "killed, not an exit code");
    assert.equal(result.signal, "SIGKILL");
    const pids = pidsIn(result.stdout);
    assert.equal(pids.length, 2, result.stdout);
    await until(() => !pids.some(alive), "both sleeps ended", 5000);
  });

  it("ends a run still going, with all it started, when killRunning() is called", async () => {
    const going = run("sh", ["-c", `${SLEEPERS}; echo never`], {
      cwd: tmpdir(),
      env: process.env,
      timeoutMs: 60_000,
    });
    // The sleeps' pids are printed at once; the run has no end of its own for 38 s.
    await new Promise((resolve) => setTimeout(resolve, 300));
    killRunning();
    const result = await going;
    assert.notEqual(result.code, 0);
    assert.doesNotMatch(result.stdout, /never/);
    const pids = pidsIn(result.stdout);
    await until(() => !pids.some(alive), "both sleeps ended", 5000);
  });

  it("a started command: its output as it comes, and a signal to it ends everything it started", async () => {
    const started = start("sh", ["-c", `${SLEEPERS}; echo never`], {
      cwd: tmpdir(),
      env: process.env,
      timeoutMs: 60_000,
    });
    await new Promise<void>((printed) =>
      started.onStdout(() => {
        if ((started.output.stdout.match(/\n/g) ?? []).length === 2) printed();
      }),
    );
    const pids = pidsIn(started.output.stdout);
    started.signal("SIGTERM");
    const result = await started.ended;
    assert.notEqual(result.code, 0);
    assert.doesNotMatch(result.stdout, /never/);
    await until(() => !pids.some(alive), "both sleeps ended", 5000);
    // Once it ended, a signal goes nowhere.
    started.signal("SIGTERM");
  });

  it("returns the output and exit code of a command that ends", async () => {
    const result = await run("sh", ["-c", "echo out; echo err >&2; exit 3"], {
      cwd: tmpdir(),
      env: process.env,
      timeoutMs: 10_000,
    });
    assert.deepEqual(result, {
      code: 3,
      signal: null,
      killed: null,
      stdout: "out\n",
      stderr: "err\n",
    });
  });

  it("says a command it could not start failed", async () => {
    const result = await run("taquba-no-such-command", [], {
      cwd: tmpdir(),
      env: process.env,
      timeoutMs: 10_000,
    });
    assert.equal(result.code, null);
    assert.equal(result.killed, null);
    assert.match(result.stderr, /ENOENT/);
  });

  it("without a group of its own: runs in this process's group (a terminal's Ctrl-C reaches it) and is killed at its deadline", async () => {
    const groupOf = async (pid: number) =>
      (
        await run("ps", ["-o", "pgid=", "-p", String(pid)], {
          cwd: tmpdir(),
          env: process.env,
          timeoutMs: 10_000,
        })
      ).stdout.trim();
    const own = await run("sh", ["-c", "ps -o pgid= -p $$"], {
      cwd: tmpdir(),
      env: process.env,
      timeoutMs: 10_000,
      group: false,
    });
    assert.equal(own.code, 0, own.stderr);
    assert.equal(own.stdout.trim(), await groupOf(process.pid));
    const hung = start("sh", ["-c", "echo $$; exec sleep 37"], {
      cwd: tmpdir(),
      env: process.env,
      timeoutMs: 1000,
      group: false,
    });
    const result = await hung.ended;
    assert.equal(result.killed, "no end within 1000 ms");
    assert.equal(result.code, null);
    await until(() => !alive(Number(result.stdout.trim())), "the sleep ended", 5000);
  });
});
