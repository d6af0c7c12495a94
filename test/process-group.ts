/**
 * Commands a test runs in a process group of their own, with a deadline: at
 * the deadline (or past too much output) the whole group is killed, not only
 * the command: `npx` runs a bin through `sh`, `npm pack` runs the build
 * through npm and `sh`, so killing only the command would leave those
 * running. `killRunning()`, from a test file's `after` hook, ends the runs
 * still going when the suite's own timeout cut a test short.
 */
import { type ChildProcessByStdio, spawn } from "node:child_process";
import type { Readable } from "node:stream";

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Where and how long a command runs. */
export interface RunOptions {
  cwd: string;
  env: NodeJS.ProcessEnv;
  timeoutMs: number;
}

/** A command started by {@link start}. */
export interface Started {
  /** Its output so far. */
  readonly output: { readonly stdout: string; readonly stderr: string };
  /** Calls `listener` after each chunk it prints on stdout. */
  onStdout(listener: () => void): void;
  /** Sends `signal` to its whole group (gone is fine). */
  signal(signal: NodeJS.Signals): void;
  /** Its end: killed at its deadline says so in stderr; one that could not start has code 1. */
  readonly ended: Promise<Run>;
}

/** Most output kept per stream of a run; a command that writes more is killed and says so. */
const MAX_OUTPUT = 16 * 1024 * 1024;

/** The process groups of the runs still going, so that killRunning() can end them. */
const running = new Set<number>();

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
  for (const pid of running) signalGroup(pid, "SIGKILL");
  running.clear();
}

/**
 * Starts a command in a process group of its own (stdin empty); kills the
 * group after `timeoutMs` and says so in stderr.
 */
export function start(command: string, args: readonly string[], options: RunOptions): Started {
  const child: ChildProcessByStdio<null, Readable, Readable> = spawn(command, args, {
    cwd: options.cwd,
    env: options.env,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const output = { stdout: "", stderr: "" };
  const listeners: (() => void)[] = [];
  let why = "";
  const stop = (reason: string): void => {
    if (why === "") why = `\n(killed: ${reason})`;
    if (child.pid !== undefined) signalGroup(child.pid, "SIGKILL");
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
  if (child.pid !== undefined) running.add(child.pid);
  const ended = new Promise<Run>((done) => {
    let started = true;
    child.on("error", (error) => {
      started = false;
      clearTimeout(timer);
      if (child.pid !== undefined) running.delete(child.pid);
      done({ code: 1, stdout: output.stdout, stderr: `${output.stderr}${error.message}` });
    });
    child.on("close", (code) => {
      if (!started) return;
      clearTimeout(timer);
      if (child.pid !== undefined) running.delete(child.pid);
      done({ code: code ?? 1, stdout: output.stdout, stderr: output.stderr + why });
    });
  });
  return {
    output,
    onStdout: (listener) => listeners.push(listener),
    signal: (signal) => {
      if (child.pid !== undefined && running.has(child.pid)) signalGroup(child.pid, signal);
    },
    ended,
  };
}

/** Runs a command to its end, or kills its whole group after `timeoutMs` and says so in stderr. */
export function run(command: string, args: readonly string[], options: RunOptions): Promise<Run> {
  return start(command, args, options).ended;
}
