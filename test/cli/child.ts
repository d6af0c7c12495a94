/**
 * The built CLI (`build/src/cli/main.js`, what `npx taquba` runs) in a child
 * process: run to completion, or start a long-running command (the dashboard,
 * the demo) and read the first line it prints, or the first one that matches.
 */
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

export const BUILT_CLI = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));

export interface ChildResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function start(args: readonly string[], cwd: string | undefined): ChildProcessWithoutNullStreams {
  return spawn(process.execPath, [BUILT_CLI, ...args], {
    ...(cwd === undefined ? {} : { cwd }),
    stdio: ["pipe", "pipe", "pipe"],
  });
}

/** Runs `taquba <args>` in a child process until it exits (killed after 30 s). */
export function runBuiltCli(args: readonly string[], cwd?: string): Promise<ChildResult> {
  return runNodeScript(BUILT_CLI, args, cwd);
}

/** Runs `node <file> <args>` (stdin empty) until it exits (killed after 30 s). */
export function runNodeScript(
  file: string,
  args: readonly string[] = [],
  cwd?: string,
): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [file, ...args], {
      ...(cwd === undefined ? {} : { cwd }),
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    child.on("error", reject);
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/**
 * Starts `taquba <args>` and resolves once it printed a line matching `until`
 * (by default: its first line), with that line; `stop(signal)` sends the
 * signal (SIGTERM by default) and resolves with how it ended.
 */
export function startBuiltCli(
  args: readonly string[],
  until: RegExp = /^/,
): Promise<{ firstLine: string; stop: (signal?: NodeJS.Signals) => Promise<ChildResult> }> {
  return new Promise((resolve, reject) => {
    const child = start(args, undefined);
    child.stdin.end();
    let stdout = "";
    let stderr = "";
    let started = false;
    const exited = new Promise<ChildResult>((done) => {
      child.on("exit", (code) => {
        clearTimeout(timer);
        done({ code, stdout, stderr });
        if (!started)
          reject(
            new Error(`exited with ${code} before printing a line matching ${until}: ${stderr}`),
          );
      });
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    child.on("error", reject);
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
      if (started) return;
      const line = stdout
        .split("\n")
        .slice(0, -1)
        .find((l) => until.test(l));
      if (line === undefined) return;
      started = true;
      resolve({
        firstLine: line,
        stop: (signal = "SIGTERM") => {
          child.kill(signal);
          return exited;
        },
      });
    });
  });
}
