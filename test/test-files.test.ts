import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { testFilesUnder } from "./test-files.js";

describe("the test files the runner runs", () => {
  const root = mkdtempSync(join(tmpdir(), "taquba-test-files-"));
  after(() => rmSync(root, { recursive: true, force: true }));
  const put = (...parts: string[]) => {
    mkdirSync(join(root, ...parts.slice(0, -1)), { recursive: true });
    writeFileSync(join(root, ...parts), "");
  };
  // Sources and what an earlier build left: gone.test.ts was removed since, tsc keeps its output.
  put("test", "a.test.ts");
  put("test", "queue", "b.test.ts");
  put("test", "queue", "setup.ts");
  put("build", "test", "a.test.js");
  put("build", "test", "queue", "b.test.js");
  put("build", "test", "queue", "setup.js");
  put("build", "test", "queue", "gone.test.js");
  put("build", "test", "queue", "gone.test.js.map");
  const build = (...parts: string[]) => join(root, "build", "test", ...parts);

  it("runs each build/test/**/*.test.js whose test/**/*.test.ts is there, and skips the others with one line each", () => {
    const notices: string[] = [];
    const files = testFilesUnder(build(), root, (line) => notices.push(line));
    assert.deepEqual(files, [build("a.test.js"), build("queue", "b.test.js")]);
    assert.equal(notices.length, 1);
    assert.match(
      notices[0]!,
      /^skipped build\/test\/queue\/gone\.test\.js: no test\/queue\/gone\.test\.ts \(left by an earlier build\)$/,
    );
  });

  it("skips such a file named on its own too, and keeps one named outside build/test", () => {
    const notices: string[] = [];
    assert.deepEqual(
      testFilesUnder(build("queue", "gone.test.js"), root, (l) => notices.push(l)),
      [],
    );
    assert.deepEqual(
      testFilesUnder(build("queue", "b.test.js"), root, (l) => notices.push(l)),
      [build("queue", "b.test.js")],
    );
    put("elsewhere", "c.test.js");
    const other = join(root, "elsewhere", "c.test.js");
    assert.deepEqual(
      testFilesUnder(other, root, (l) => notices.push(l)),
      [other],
    );
    assert.equal(notices.length, 1);
  });
});
