/**
 * The public classes' methods check their receiver (`this`) once: each finds
 * its core (or reader) with one call of the class's own check
 * (`Queue.#coreOf(this)`, `QueueReader.#asReader(this)`) and uses that.
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import ts from "typescript";

const SRC = fileURLToPath(new URL("../../../src/queue/", import.meta.url));
const FILES = ["queue.ts", "queue-data.ts", "queue-management.ts", "reader.ts"];
const CHECKS = new Set(["#coreOf", "#asReader"]);

/** The methods of `text` that call a receiver check on `this` more than once, with how often. */
function checkedTwice(file: string, text: string): string[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const found: string[] = [];
  const count = (node: ts.Node): number => {
    let n = 0;
    const visit = (child: ts.Node): void => {
      if (
        ts.isCallExpression(child) &&
        ts.isPropertyAccessExpression(child.expression) &&
        ts.isPrivateIdentifier(child.expression.name) &&
        CHECKS.has(child.expression.name.text) &&
        child.arguments.length === 1 &&
        child.arguments[0]!.kind === ts.SyntaxKind.ThisKeyword
      )
        n++;
      ts.forEachChild(child, visit);
    };
    visit(node);
    return n;
  };
  const visit = (node: ts.Node): void => {
    if (
      (ts.isMethodDeclaration(node) || ts.isGetAccessorDeclaration(node)) &&
      node.body !== undefined
    ) {
      const n = count(node.body);
      if (n > 1) found.push(`${file}: ${node.name.getText(source)} (${n} checks)`);
      return;
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

describe("receiver checks", () => {
  it("every method of Queue and QueueReader checks its receiver once", async () => {
    const found: string[] = [];
    for (const file of FILES)
      found.push(...checkedTwice(file, await readFile(`${SRC}${file}`, "utf8")));
    assert.deepEqual(found, []);
  });

  it("the check counts the calls of a method's own body", () => {
    assert.deepEqual(
      checkedTwice(
        "a.ts",
        "class A {\n  m() {\n    return f(A.#coreOf(this)) ?? g(A.#coreOf(this));\n  }\n" +
          "  n() {\n    const core = A.#coreOf(this);\n    return f(core, A.#coreOf(other));\n  }\n}\n",
      ),
      ["a.ts: m (2 checks)"],
    );
  });
});
