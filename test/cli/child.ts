/**
 * The built CLI (`build/src/cli/main.js`, what `npx taquba` runs) in a child
 * process: run to completion, or start a long-running command (the dashboard)
 * and read the first line it prints.
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
 * Starts `taquba <args>` and resolves with its first line of output once it
 * printed one; `stop()` sends SIGTERM and resolves with how it ended.
 */
export function startBuiltCli(
  args: readonly string[],
): Promise<{ firstLine: string; stop: () => Promise<ChildResult> }> {
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
        if (!started) reject(new Error(`exited with ${code} before printing a line: ${stderr}`));
      });
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    child.on("error", reject);
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
      const end = stdout.indexOf("\n");
      if (started || end < 0) return;
      started = true;
      resolve({
        firstLine: stdout.slice(0, end),
        stop: () => {
          child.kill("SIGTERM");
          return exited;
        },
      });
    });
  });
}
