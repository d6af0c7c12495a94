/**
 * Print the markdown tables of a saved results file (from `suite.js` or
 * `compare.js`; by default under `.tmp/bench/`):
 *
 *   node build/bench/render.js .tmp/bench/2026-01-01T00-00-00.json
 *
 * A missing or unreadable file prints one line and exits with status 2.
 */
import { readFileSync } from "node:fs";
import { messageOf } from "../src/util/message.js";
import { exitOnUsageError, printUsage, UsageError } from "./lib/args.js";
import { comparisonTable } from "./lib/compare-table.js";
import { markdownReport } from "./lib/markdown.js";
import type { BenchResult } from "./lib/result.js";

const SUMMARY = "Prints the markdown tables of a saved results file (from suite.js or compare.js).";
const [path, ...extra] = process.argv.slice(2);
if (path === "--help") printUsage(SUMMARY, "<results.json>");
const saved = exitOnUsageError(() => {
  if (path === undefined || path.startsWith("--") || extra.length > 0)
    throw new UsageError(
      path === undefined || path.startsWith("--")
        ? `Expected a results file (usage: render.js <results.json>), got ${path === undefined ? "none" : `\`${path}\``}`
        : `Unexpected argument \`${extra[0]}\`: this command takes one <results.json>`,
    );
  return readResults(path);
});

/** The saved results in `path`, or a {@link UsageError} saying in one line why not. */
function readResults(path: string): { results?: BenchResult[]; runs?: BenchResult[] } {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new UsageError(
      `Cannot read the results file \`${path}\`: ${code === "ENOENT" ? "no such file" : messageOf(error)}`,
    );
  }
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === "object" && parsed !== null && ("results" in parsed || "runs" in parsed))
      return parsed as { results?: BenchResult[]; runs?: BenchResult[] };
  } catch (error) {
    throw new UsageError(
      `Expected \`${path}\` to be a results file (JSON), got ${messageOf(error).replace(/\s+/g, " ")}`,
    );
  }
  throw new UsageError(
    `Expected \`${path}\` to be a results file of suite.js or compare.js (with results or runs), got other JSON`,
  );
}

// A suite file has `results`; a comparison file has every run in `runs`.
if (saved.results !== undefined) process.stdout.write(`${markdownReport(saved.results)}\n`);
if (saved.runs !== undefined) process.stdout.write(`${comparisonTable(saved.runs)}\n`);
