/**
 * The built CLI (`build/src/cli/main.js`, what `npx taquba` runs) in a child
 * process: run to completion, or start a long-running command (the dashboard,
 * the demo) and read the first line it prints, or the first one that matches.
 * Each is killed after {@link CHILD_TIMEOUT_MS} (see `process-group.ts`; a
 * test file's `after` hook calls its `killRunning()` for runs a test's
 * timeout cut short). They run in the test's process group, not one of their
 * own: the CLI starts no processes, and a terminal's Ctrl-C, which signals
 * only the foreground group, then ends a dashboard along with the test.
 */
import { fileURLToPath } from "node:url";
import { type Run, start } from "../process-group.js";

export const BUILT_CLI = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));

/** How long a child may run before it is killed. */
export const CHILD_TIMEOUT_MS = 30_000;

export type ChildResult = Run;

function startNode(file: string, args: readonly string[], cwd: string | undefined) {
  return start(process.execPath, [file, ...args], {
    cwd: cwd ?? process.cwd(),
    env: process.env,
    timeoutMs: CHILD_TIMEOUT_MS,
    group: false,
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
  return startNode(file, args, cwd).ended;
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
    const child = startNode(BUILT_CLI, args, undefined);
    let started = false;
    child.ended.then(({ code, signal, stderr }) => {
      if (!started)
        reject(
          new Error(
            `exited with ${code ?? signal} before printing a line matching ${until}: ${stderr}`,
          ),
        );
    });
    child.onStdout(() => {
      if (started) return;
      const line = child.output.stdout
        .split("\n")
        .slice(0, -1)
        .find((l) => until.test(l));
      if (line === undefined) return;
      started = true;
      resolve({
        firstLine: line,
        stop: (signal = "SIGTERM") => {
          child.signal(signal);
          return child.ended;
        },
      });
    });
  });
}
