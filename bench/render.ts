/**
 * Print the markdown tables of a saved results file (from `suite.js` or
 * `compare.js`; by default under `.tmp/bench/`):
 *
 *   node build/bench/render.js .tmp/bench/2026-01-01T00-00-00.json
 */
import { readFile } from "node:fs/promises";
import { comparisonTable } from "./lib/compare-table.js";
import { markdownReport } from "./lib/markdown.js";
import type { BenchResult } from "./lib/result.js";

const path = process.argv[2];
if (path === undefined) {
  process.stderr.write("usage: render.js <results.json>\n");
  process.exit(2);
}
const saved = JSON.parse(await readFile(path, "utf8")) as {
  results?: BenchResult[];
  runs?: BenchResult[];
};
// A suite file has `results`; a comparison file has every run in `runs`.
if (saved.results !== undefined) process.stdout.write(`${markdownReport(saved.results)}\n`);
if (saved.runs !== undefined) process.stdout.write(`${comparisonTable(saved.runs)}\n`);
