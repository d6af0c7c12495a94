/**
 * The test servers' watchdog outlives a test process stopped by SIGTERM to its
 * process group (what `timeout` sends) and then kills the daemons it was
 * given, also one that ignores SIGTERM; released, it kills nothing.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { startWatchdog } from "./watchdog.js";

const CHILD = fileURLToPath(new URL("./fixtures/watchdog-child.js", import.meta.url));

/** Whether `pid` runs (a zombie waiting for its new parent to reap it counts as gone). */
function running(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/s.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

async function until(condition: () => boolean, ms: number): Promise<boolean> {
  const deadline = performance.now() + ms;
  while (performance.now() < deadline) {
    if (condition()) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return condition();
}

describe("test servers' watchdog", { timeout: 60_000 }, () => {
  it("outlives SIGTERM to the test's process group and kills a daemon that ignores SIGTERM", async () => {
    const child = spawn(process.execPath, [CHILD], {
      detached: true, // its own process group, like a command under `timeout`
      stdio: ["ignore", "pipe", "inherit"],
    });
    const line = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout! }).once("line", resolve);
      child.once("exit", (code) => reject(new Error(`fixture exited early (${code})`)));
    });
    const pids = JSON.parse(line) as { daemon: number; watchdog: number };
    try {
      assert.ok(running(pids.daemon) && running(pids.watchdog));
      const exited = new Promise((resolve) => child.once("exit", resolve));
      process.kill(-child.pid!, "SIGTERM");
      await exited;
      assert.ok(
        await until(() => !running(pids.daemon), 10_000),
        `daemon ${pids.daemon} still runs after its test process was stopped by SIGTERM`,
      );
      assert.ok(await until(() => !running(pids.watchdog), 10_000), "the watchdog did not exit");
    } finally {
      for (const pid of [pids.daemon, pids.watchdog]) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          // gone
        }
      }
    }
  });

  it("released, exits and kills nothing", async () => {
    const daemon = spawn("sleep", ["300"], { stdio: "ignore" });
    const watchdog = startWatchdog();
    try {
      watchdog.add(daemon.pid!);
      watchdog.release();
      assert.ok(await until(() => !running(watchdog.pid!), 10_000), "the watchdog did not exit");
      assert.ok(running(daemon.pid!), "a released watchdog killed its daemon");
    } finally {
      daemon.kill("SIGKILL");
    }
  });
});
