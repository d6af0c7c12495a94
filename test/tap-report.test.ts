import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { tapCounts, tapFailures } from "./tap-report.js";

// Each fixture is a test file whose TAP report, from the Node running this test, the
// runner's closing summary reads.
const FIXTURES: Record<string, string> = {
  "hook-failed.test.mjs": `import { before, describe, it } from "node:test";
describe("hooked", () => {
  before(() => { throw new Error("boom in before"); });
  it("a", () => {});
  it("b", () => {});
});`,
  "suite-timeout.test.mjs": `import { describe, it } from "node:test";
describe("slow suite", { timeout: 300 }, () => {
  it("first", () => {});
  it("hangs", () => new Promise((r) => setTimeout(r, 1500)));
  it("after", () => {});
});`,
  "nested-failure.test.mjs": `import { describe, it } from "node:test";
describe("outer", () => {
  describe("inner", () => {
    it("fails", () => { throw new Error("plain failure"); });
    it("passes", () => {});
  });
});`,
  "file-timeout.test.mjs": `import { before, describe, it } from "node:test";
describe("slow before", { timeout: 60000 }, () => {
  before(() => new Promise((r) => setTimeout(r, 1500)));
  it("never reached", () => {});
});`,
};

function tapOf(files: string[], fileTimeoutMs: number): Promise<string> {
  const args = ["--test", "--test-reporter=tap", `--test-timeout=${fileTimeoutMs}`, ...files];
  // Without NODE_TEST_CONTEXT, which would make it report to this runner instead of in TAP.
  const { NODE_TEST_CONTEXT: _, ...env } = process.env;
  return new Promise((done, fail) => {
    // A failing run exits non-zero; the report on stdout is what is read.
    execFile(process.execPath, args, { env, timeout: 30_000 }, (error, stdout) => {
      if (error && error.code === undefined) fail(error);
      else done(stdout);
    });
  });
}

/** Each listed failure's heading (`not ok - suite > test`), sorted. */
function headings(failures: string[]): string[] {
  return failures.map((failure) => failure.split("\n")[0]!).sort();
}

describe("the runner's closing failure list", () => {
  let dir = "";
  let tap = "";
  let fileTimeoutTap = "";
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "taquba-tap-report-"));
    for (const [name, text] of Object.entries(FIXTURES)) writeFileSync(join(dir, name), text);
    const files = ["hook-failed", "suite-timeout", "nested-failure"].map((name) =>
      join(dir, `${name}.test.mjs`),
    );
    [tap, fileTimeoutTap] = await Promise.all([
      tapOf(files, 60_000),
      tapOf([join(dir, "file-timeout.test.mjs")], 500),
    ]);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("lists a failed test under its suites, not the suites it failed", () => {
    const listed = tapFailures(tap).filter((f) => f.includes("plain failure"));
    assert.deepEqual(headings(listed), ["not ok - outer > inner > fails"]);
  });

  it("lists a suite whose before hook failed, with its error, not the tests it cancelled", () => {
    const listed = tapFailures(tap).filter((f) => f.startsWith("not ok - hooked"));
    assert.deepEqual(headings(listed), ["not ok - hooked"]);
    assert.match(listed[0]!, /boom in before/);
  });

  it("lists a suite that timed out and the test that was running, not the tests never started", () => {
    const listed = tapFailures(tap).filter((f) => f.startsWith("not ok - slow suite"));
    assert.deepEqual(headings(listed), ["not ok - slow suite", "not ok - slow suite > hangs"]);
    assert.match(
      listed.find((f) => f.startsWith("not ok - slow suite\n"))!,
      /timed out after 300ms/,
    );
  });

  it("lists a file that timed out, before hook included", () => {
    const listed = tapFailures(fileTimeoutTap);
    assert.deepEqual(headings(listed), [`not ok - ${join(dir, "file-timeout.test.mjs")}`]);
    assert.match(listed[0]!, /timed out after 500ms/);
  });

  it("reads the closing counts", () => {
    assert.deepEqual(tapCounts(tap), {
      tests: 7,
      pass: 2,
      fail: 1,
      cancelled: 4,
      skipped: 0,
      todo: 0,
    });
  });
});
