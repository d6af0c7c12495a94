// Owns `npm test`: runs every test file (build/test/**/*.test.js) on each Node of testNodes(),
// one Node after the other, then prints the counts per Node. Files under build/test/package/
// install the packed package and try it on every Node themselves, so they run only once.
// `npm test -- <file or folder>...` narrows the run to those files.
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, resolve, sep } from "node:path";
import { repoRoot, type TestNode, testNodes } from "./nodes.js";

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

/** Most diagnostic lines kept per failure: enough for the error, its location and stack top. */
const FAILURE_LINES = 40;

function testFilesUnder(path: string): string[] {
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path, { recursive: true })
    .map((name) => join(path, String(name)))
    .filter((file) => file.endsWith(".test.js"))
    .sort();
}

function toBuildPath(path: string): string {
  return /^test[/\\]/.test(path) ? join("build", path.replace(/\.ts$/, ".js")) : path;
}

/** The last `# name N` lines of a TAP report: tests, pass, fail, cancelled, skipped, todo. */
function tapCounts(tap: string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const match of tap.matchAll(/^# (tests|pass|fail|cancelled|skipped|todo) (\d+)$/gm))
    counts[match[1]!] = Number(match[2]);
  return counts;
}

/**
 * The `not ok` entries of a TAP report that are tests, not the suites and files that
 * fail because of them, each with its YAML block (error, location, stack), so the end
 * of a long CI log says which test failed and why.
 */
function tapFailures(tap: string): string[] {
  const lines = tap.split("\n");
  const failures: string[] = [];
  // The enclosing suites' names by depth (four spaces per level), from `# Subtest:` lines.
  const suites: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const subtest = /^(\s*)# Subtest: (.*)$/.exec(line);
    if (subtest) {
      suites.length = subtest[1]!.length / 4;
      suites.push(subtest[2]!);
      continue;
    }
    const notOk = /^(\s*)not ok \d+ - (.*)$/.exec(line);
    if (!notOk) continue;
    const depth = notOk[1]!.length / 4;
    const block = [`not ok - ${[...suites.slice(0, depth), notOk[2]!].join(" > ")}`];
    let j = i + 1;
    if (lines[j]?.trim() === "---") {
      for (j++; j < lines.length && lines[j]!.trim() !== "..."; j++) {
        // Node's own frames say nothing about which test failed or why.
        if (!lines[j]!.includes("node:internal") && !lines[j]!.includes("(<anonymous>)"))
          block.push(lines[j]!.slice(notOk[1]!.length));
      }
    }
    const text = block.join("\n");
    // Suites fail because a test in them did; that test is reported on its own. A suite whose
    // hook failed is the cause, though, and the tests it cancelled are not (they are counted).
    if (/^\s*failureType: '(?:subtestsFailed|cancelledByParent)'/m.test(text)) continue;
    if (/^\s*type: 'suite'/m.test(text) && !/^\s*failureType: 'hookFailed'/m.test(text)) continue;
    const kept = block.slice(0, FAILURE_LINES);
    if (block.length > FAILURE_LINES) kept.push(`  … ${block.length - FAILURE_LINES} more lines`);
    failures.push(kept.join("\n"));
  }
  return failures;
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
    .flatMap(testFilesUnder)
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
