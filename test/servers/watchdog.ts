/**
 * The test servers' watchdog: a small shell process that kills a test's
 * daemons (by pid, SIGKILL) when the test process dies without stopping them.
 * It reads pids on its stdin; when stdin reaches its end without a "done"
 * line, the test process is gone (whatever killed it) and the pids are killed.
 *
 * A test stopped with SIGTERM or SIGINT (`timeout`, Ctrl-C) gets the signal
 * as a process group. The watchdog runs in a group of its own and ignores
 * those signals too, so it outlives the test process and still does its job:
 * a daemon that ignores or outlives SIGTERM (as `ceph-osd` may) is not left
 * running with no parent.
 */
import { spawn } from "node:child_process";

export interface Watchdog {
  /** Kill `pid` if the test process dies first. */
  add(pid: number): void;
  /** The daemons were stopped: the watchdog exits and kills nothing. */
  release(): void;
  /** The watchdog's own pid. */
  readonly pid: number | undefined;
}

/** The watchdog's script (POSIX sh). */
export const WATCHDOG_SCRIPT =
  "trap '' HUP INT TERM; " +
  'pids=""; while read -r line; do [ "$line" = done ] && exit 0; pids="$pids $line"; done; ' +
  '[ -n "$pids" ] && kill -9 $pids 2>/dev/null; exit 0';

export function startWatchdog(): Watchdog {
  const child = spawn("sh", ["-c", WATCHDOG_SCRIPT], {
    stdio: ["pipe", "ignore", "ignore"],
    // Its own process group: a signal to the test's group does not reach it.
    detached: true,
  });
  child.unref();
  const stdin = child.stdin!;
  (stdin as unknown as { unref?: () => void }).unref?.();
  stdin.on("error", () => {});
  return {
    add: (pid) => stdin.write(`${pid}\n`),
    release: () => stdin.end("done\n"),
    pid: child.pid,
  };
}
