/**
 * Commands a test runs in a process group of their own, with a deadline: at
 * the deadline (or past too much output) the whole group is killed, not only
 * the command: `npx` runs a bin through `sh`, `npm pack` runs the build
 * through npm and `sh`, so killing only the command would leave those
 * running. `killRunning()`, from a test file's `after` hook, ends the runs
 * still going when the suite's own timeout cut a test short. A command that
 * starts no processes of its own can run without a group (`group: false`):
 * then a terminal's Ctrl-C, which signals only its foreground group, reaches
 * it along with the test, rather than leaving it running.
 */
import { type ChildProcessByStdio, spawn } from "node:child_process";
import type { Readable } from "node:stream";

/** How a command ended. */
export interface Run {
  /** Its exit code; `null` when a signal ended it or it could not start. */
  code: number | null;
  /** The signal that ended it, if one did. */
  signal: NodeJS.Signals | null;
  /** Why it was killed here (its deadline, or too much output), or `null` when it was not. */
  killed: string | null;
  stdout: string;
  stderr: string;
}

/** Where and how long a command runs. */
export interface RunOptions {
  cwd: string;
  env: NodeJS.ProcessEnv;
  timeoutMs: number;
  /**
   * Whether it runs in a process group of its own (the default), all of it
   * killed at the deadline. Without, only the command is killed.
   */
  group?: boolean;
}

/** A command started by {@link start}. */
export interface Started {
  /** Its output so far. */
  readonly output: { readonly stdout: string; readonly stderr: string };
  /** Calls `listener` after each chunk it prints on stdout. */
  onStdout(listener: () => void): void;
  /** Sends `signal` to it, to its whole group if it has one (gone is fine). */
  signal(signal: NodeJS.Signals): void;
  /** Its end: killed at its deadline says so in `killed` and stderr; one that could not start has code `null` and the error in stderr. */
  readonly ended: Promise<Run>;
}

/** Most output kept per stream of a run; a command that writes more is killed and says so. */
const MAX_OUTPUT = 16 * 1024 * 1024;

/** How to signal each run still going (by pid), so that killRunning() can end them. */
const running = new Map<number, (signal: NodeJS.Signals) => void>();

/** Sends `signal` to the process group of `pid` (the command and everything it started); gone is fine. */
function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // the group has already ended
  }
}

/** Kills every run still going, with all it started (for an `after` hook). */
export function killRunning(): void {
  for (const signal of running.values()) signal("SIGKILL");
  running.clear();
}

/** Sends `signal` to process `pid` alone; gone is fine. */
function signalOne(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // it has already ended
  }
}

/**
 * Starts a command in a process group of its own unless `group` is false
 * (stdin empty); kills it (the group) after `timeoutMs` and says so.
 */
export function start(command: string, args: readonly string[], options: RunOptions): Started {
  const child: ChildProcessByStdio<null, Readable, Readable> = spawn(command, args, {
    cwd: options.cwd,
    env: options.env,
    detached: options.group !== false,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const output = { stdout: "", stderr: "" };
  const listeners: (() => void)[] = [];
  const pid = child.pid;
  const send = (signal: NodeJS.Signals): void => {
    if (pid === undefined) return;
    if (options.group === false) signalOne(pid, signal);
    else signalGroup(pid, signal);
  };
  let killed: string | null = null;
  const stop = (reason: string): void => {
    killed ??= reason;
    send("SIGKILL");
  };
  for (const name of ["stdout", "stderr"] as const) {
    child[name].setEncoding("utf8");
    child[name].on("data", (chunk: string) => {
      output[name] += chunk;
      if (output[name].length > MAX_OUTPUT) stop(`more than ${MAX_OUTPUT} characters on ${name}`);
      if (name === "stdout") for (const listener of listeners) listener();
    });
  }
  const timer = setTimeout(() => stop(`no end within ${options.timeoutMs} ms`), options.timeoutMs);
  if (pid !== undefined) running.set(pid, send);
  const ended = new Promise<Run>((done) => {
    let started = true;
    child.on("error", (error) => {
      started = false;
      clearTimeout(timer);
      if (pid !== undefined) running.delete(pid);
      const stderr = `${output.stderr}${error.message}`;
      done({ code: null, signal: null, killed: null, stdout: output.stdout, stderr });
    });
    child.on("close", (code, signal) => {
      if (!started) return;
      clearTimeout(timer);
      if (pid !== undefined) running.delete(pid);
      const why = killed === null ? "" : `\n(killed: ${killed})`;
      done({ code, signal, killed, stdout: output.stdout, stderr: output.stderr + why });
    });
  });
  return {
    output,
    onStdout: (listener) => listeners.push(listener),
    signal: (signal) => {
      if (pid !== undefined && running.has(pid)) send(signal);
    },
    ended,
  };
}

/** Runs a command to its end, or kills it (its whole group) after `timeoutMs` and says so. */
export function run(command: string, args: readonly string[], options: RunOptions): Promise<Run> {
  return start(command, args, options).ended;
}
