/**
 * Print the markdown tables of a saved results file (from `suite.js --out` or
 * the default `.tmp/bench/<timestamp>.json`):
 *
 *   node build/bench/render.js .tmp/bench/2026-01-01T00-00-00.json
 */
import { readFile } from "node:fs/promises";
import { markdownReport } from "./lib/markdown.js";
import type { BenchResult } from "./lib/result.js";

const path = process.argv[2];
if (path === undefined) {
  process.stderr.write("usage: render.js <results.json>\n");
  process.exit(2);
}
const saved = JSON.parse(await readFile(path, "utf8")) as { results: BenchResult[] };
process.stdout.write(`${markdownReport(saved.results)}\n`);
