// Owns reading the TAP report of a `node --test` run: the closing counts and the failures
// worth listing at the end of a long log (the causes, not the suites and tests they fail).

/** Most diagnostic lines kept per failure: enough for the error, its location and stack top. */
const FAILURE_LINES = 40;

/** The last `# name N` lines of a TAP report: tests, pass, fail, cancelled, skipped, todo. */
export function tapCounts(tap: string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const match of tap.matchAll(/^# (tests|pass|fail|cancelled|skipped|todo) (\d+)$/gm))
    counts[match[1]!] = Number(match[2]);
  return counts;
}

/**
 * Whether a `not ok` entry is a consequence that the report already explains elsewhere:
 * - a suite that failed because a test in it did (`subtestsFailed`): that test is listed;
 * - a test or suite cancelled by its parent before it started (`cancelledByParent`, 0 ms):
 *   the parent's hook failure or timeout is listed, and the cancelled ones are counted;
 * - a suite cancelled by its parent while running: the test that was running in it is listed.
 * Everything else is a cause and is listed: a failed test, a suite whose hook failed or that
 * timed out, a file that timed out, and a test still running when its parent timed out (the
 * one that hung).
 */
function isConsequence(entry: string): boolean {
  if (/^\s*failureType: 'subtestsFailed'/m.test(entry)) return true;
  if (!/^\s*failureType: 'cancelledByParent'/m.test(entry)) return false;
  return /^\s*type: 'suite'/m.test(entry) || /^\s*duration_ms: 0$/m.test(entry);
}

/**
 * The `not ok` entries of a TAP report that are causes (see isConsequence), each with its
 * YAML block (error, location, stack), so the end of a long CI log says which test failed
 * and why.
 */
export function tapFailures(tap: string): string[] {
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
    if (isConsequence(block.join("\n"))) continue;
    const kept = block.slice(0, FAILURE_LINES);
    if (block.length > FAILURE_LINES) kept.push(`  … ${block.length - FAILURE_LINES} more lines`);
    failures.push(kept.join("\n"));
  }
  return failures;
}
