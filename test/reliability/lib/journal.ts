/**
 * The crash suite's record of what a child process did: one line per fact,
 * written so that killing the child cannot take a line back.
 *
 * The child appends each line to a file with a synchronous write. Once the
 * write returns, the line is in the kernel's page cache, which outlives the
 * process, so every line the child wrote before it issued an operation is
 * there for the parent to read after SIGKILL, however far behind the parent
 * was. A child's stdout is no such record: when the parent falls behind (a
 * loaded machine), Node queues the child's writes to the pipe inside the
 * child, and SIGKILL throws that queue away.
 */
import { openSync, readFileSync, writeSync } from "node:fs";

/**
 * The child's side: opens (or creates) the journal at `path` and returns
 * `record(line)`, which returns once the line is written.
 */
export function openJournal(path: string): (line: string) => void {
  const fd = openSync(path, "a");
  return (line) => {
    if (line.includes("\n")) throw new Error(`journal lines are single lines, got ${line}`);
    const bytes = Buffer.from(`${line}\n`);
    for (let done = 0; done < bytes.length; ) done += writeSync(fd, bytes, done);
  };
}

/**
 * The parent's side, once the child is gone: every complete line, in order
 * (none when the child never created the journal). A last line without its
 * newline was cut short by the kill; the child never acted on it, so it is
 * dropped.
 */
export function readJournal(path: string): string[] {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    if ((error as { code?: unknown }).code === "ENOENT") return [];
    throw error;
  }
  const lines = text.split("\n");
  lines.pop(); // "" after the last newline, or a torn line
  return lines;
}
