/**
 * Every module in `src/` opens with a comment saying what it owns, before its
 * imports (a comment below an import is read as that import's, and moves
 * with it when imports are sorted).
 */
import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const SRC = fileURLToPath(new URL("../../../src/", import.meta.url));

async function modules(dir: string): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...(await modules(path)));
    else if (entry.name.endsWith(".ts")) found.push(path);
  }
  return found;
}

describe("module headers", { timeout: 20_000 }, () => {
  it("every module of src/ opens with a comment", async () => {
    const files = await modules(SRC);
    assert.ok(files.length > 100, String(files.length));
    const missing: string[] = [];
    for (const file of files) {
      const lines = (await readFile(file, "utf8")).split("\n");
      const first = lines[0]?.startsWith("#!") ? lines[1] : lines[0];
      if (!/^\s*\/[*/]/.test(first ?? "")) missing.push(file.slice(SRC.length));
    }
    assert.deepEqual(missing, []);
  });
});
