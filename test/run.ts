// Owns `npm test`: runs every test file (build/test/**/*.test.js) on each Node of testNodes(),
// one Node after the other, then prints the counts per Node. Files under build/test/package/
// install the packed package and try it on every Node themselves, so they run only once.
// `npm test -- <file or folder>...` narrows the run to those files. A compiled test file whose
// source is gone (left by an earlier build) is skipped with a notice (test-files.ts).
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, resolve, sep } from "node:path";
import { repoRoot, type TestNode, testNodes } from "./nodes.js";
import { tapCounts, tapFailures } from "./tap-report.js";
import { testFilesUnder } from "./test-files.js";

const CONCURRENCY = 2;
/** No single test may take longer: a hang fails instead of stalling the run. */
const TEST_TIMEOUT_MS = 300_000;

interface Outcome {
  node: TestNode;
  files: number;
  counts: Record<string, number>;
  /** Each failed test's `not ok` line with its diagnostics, as the TAP report gave them. */
  failures: string[];
  exitCode: number;
  seconds: number;
}

function toBuildPath(path: string): string {
  return /^test[/\\]/.test(path) ? join("build", path.replace(/\.ts$/, ".js")) : path;
}

function runOn(node: TestNode, files: string[], cwd: string): Promise<Outcome> {
  const reportDir = mkdtempSync(join(tmpdir(), "taquba-test-report-"));
  const tapFile = join(reportDir, "report.tap");
  const visible = process.stdout.isTTY ? "spec" : "tap";
  const args = [
    "--test",
    `--test-concurrency=${CONCURRENCY}`,
    `--test-timeout=${TEST_TIMEOUT_MS}`,
    `--test-reporter=${visible}`,
    "--test-reporter-destination=stdout",
    "--test-reporter=tap",
    `--test-reporter-destination=${tapFile}`,
    ...files,
  ];
  const started = performance.now();
  return new Promise((done, fail) => {
    const child = spawn(node.executable, args, { cwd, stdio: "inherit" });
    child.on("error", fail);
    child.on("exit", (code, signal) => {
      let counts: Record<string, number> = {};
      let failures: string[] = [];
      try {
        const tap = readFileSync(tapFile, "utf8");
        counts = tapCounts(tap);
        failures = tapFailures(tap);
      } catch {
        // no report: the exit code says what happened
      }
      rmSync(reportDir, { recursive: true, force: true });
      done({
        node,
        files: files.length,
        counts,
        failures,
        exitCode: code ?? (signal === null ? 1 : 128),
        seconds: (performance.now() - started) / 1000,
      });
    });
  });
}

async function main(): Promise<number> {
  const root = repoRoot();
  const testRoot = join(root, "build", "test");
  const asked = process.argv.slice(2);
  // Source paths (test/x.test.ts) name their build output (build/test/x.test.js).
  const files = (asked.length === 0 ? [testRoot] : asked.map((p) => resolve(toBuildPath(p))))
    .flatMap((path) => testFilesUnder(path, root, (line) => console.error(line)))
    .map((file) => relative(root, file));
  if (files.length === 0) {
    console.error(`no test files (*.test.js) in ${asked.join(" ") || testRoot}`);
    return 1;
  }
  const nodes = testNodes();
  const runOnce = `${join("build", "test", "package")}${sep}`;
  const outcomes: Outcome[] = [];
  for (const [index, node] of nodes.entries()) {
    const these = index === 0 ? files : files.filter((file) => !file.startsWith(runOnce));
    if (these.length === 0) continue;
    console.log(`\n# taquba: ${these.length} test files on Node ${node.version}\n`);
    outcomes.push(await runOn(node, these, root));
  }
  for (const { node, failures } of outcomes) {
    if (failures.length === 0) continue;
    console.log(`\n# taquba: ${failures.length} failed on Node ${node.version}`);
    for (const failure of failures) console.log(`${failure}\n`);
  }
  console.log("\n# taquba: summary");
  for (const { node, files: n, counts, exitCode, seconds } of outcomes) {
    const parts = ["tests", "pass", "fail", "cancelled", "skipped", "todo"].map(
      (name) => `${name} ${counts[name] ?? "?"}`,
    );
    const verdict = exitCode === 0 ? "ok" : `FAILED (exit code ${exitCode})`;
    console.log(
      `# Node ${node.version}: ${verdict}: ${n} files, ${parts.join(", ")}, ${seconds.toFixed(1)} s`,
    );
  }
  if (nodes.length === 1)
    console.log(`# (only Node ${nodes[0]!.version}: run npm test on Node 20 to cover both)`);
  return outcomes.every((o) => o.exitCode === 0) ? 0 : 1;
}

process.exitCode = await main();
