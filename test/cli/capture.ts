import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { CliIO } from "../../src/cli/io.js";
import { runCli } from "../../src/cli/run.js";

/** A `CliIO` that records what a command printed. */
export function capture(): CliIO & { stdout: string; stderr: string } {
  const io = {
    stdout: "",
    stderr: "",
    interactive: false,
    out: (text: string) => {
      io.stdout += text;
    },
    err: (text: string) => {
      io.stderr += text;
    },
  };
  return io;
}

/** Runs the CLI with `args` and returns its exit code and what it printed. */
export async function cli(
  ...args: string[]
): Promise<{ code: number; stdout: string; stderr: string }> {
  const io = capture();
  const code = await runCli(args, io);
  return { code, stdout: io.stdout, stderr: io.stderr };
}

/**
 * Fresh temp directories named `<prefix>…`, all removed by the returned
 * `removeAll` (register it with `after`).
 */
export function tempDirs(prefix: string): {
  make: () => Promise<string>;
  removeAll: () => Promise<void>;
} {
  const dirs: string[] = [];
  return {
    make: async () => {
      const dir = await mkdtemp(join(tmpdir(), prefix));
      dirs.push(dir);
      return dir;
    },
    removeAll: async () => {
      for (const dir of dirs) await rm(dir, { recursive: true, force: true });
    },
  };
}
