/**
 * The README's advice for a process that loads both the ESM and the CommonJS
 * copy of the package (test `error.code`, not `instanceof`) names every code
 * an error of the package can carry.
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import * as taquba from "../../src/index.js";

const README = fileURLToPath(new URL("../../../README.md", import.meta.url));

describe("README: dual package", () => {
  it("says instanceof fails across the two copies and lists every error code to test instead", async () => {
    const readme = await readFile(README, "utf8");
    const start = readme.indexOf("(a dual package)");
    assert.ok(start > 0, "the README explains the dual package");
    const paragraph = readme.slice(start, readme.indexOf("\n\n", start));
    assert.match(paragraph, /`error instanceof FencedError` is false/);
    // Errors a store call can throw that are not TaqubaErrors: the paragraph must not say "every error".
    assert.doesNotMatch(paragraph, /every error taquba throws/);
    for (const code of ["OBJECT_EXISTS", "INJECTED_FAULT"])
      assert.ok(paragraph.includes(`\`${code}\``), `${code} is mentioned`);
    const listed = new Set([...paragraph.matchAll(/`([A-Z_]+)`/g)].map((m) => m[1]));
    type ErrorClass = new (message: string) => taquba.TaqubaError;
    const errorClasses = (Object.values(taquba) as unknown[]).filter(
      (value): value is ErrorClass =>
        typeof value === "function" && value.prototype instanceof taquba.TaqubaError,
    );
    assert.ok(errorClasses.length >= 10, String(errorClasses.length));
    for (const ErrorClass of errorClasses) {
      const { code } = new ErrorClass("x");
      assert.ok(listed.has(code), `${ErrorClass.name}'s code ${code} is listed`);
    }
  });
});
