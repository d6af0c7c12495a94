/**
 * The public classes' methods check their receiver (`this`) once: each finds
 * its core (or reader) with one call of the class's own check
 * (`Queue.#coreOf(this)`, `QueueReader.#asReader(this)`) and uses that.
 *
 * The checks are found, not listed: any `static #name(receiver…)` of a class
 * in `src/` is one, so a method moved to a new module, or a check renamed,
 * is still counted.
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { relative } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { bare, modules } from "./source-files.js";

const SRC = fileURLToPath(new URL("../../../src/", import.meta.url));

/** What one module declares and does with its receiver checks. */
interface Checks {
  /** The names of its receiver checks: static private methods whose first parameter is `receiver`. */
  declared: string[];
  /** How many calls of one of them on `this` it makes, in all. */
  calls: number;
  /** Its members calling one of them on `this` more than once, with how often. */
  twice: string[];
}

function receiverChecks(file: string, text: string): Checks {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const declared = new Set<string>();
  const findDeclared = (node: ts.Node): void => {
    if (
      ts.isMethodDeclaration(node) &&
      ts.isPrivateIdentifier(node.name) &&
      node.modifiers?.some((m) => m.kind === ts.SyntaxKind.StaticKeyword) === true &&
      node.parameters[0]?.name.getText(source) === "receiver"
    )
      declared.add(node.name.text);
    ts.forEachChild(node, findDeclared);
  };
  findDeclared(source);
  const isCheck = (node: ts.Node): boolean =>
    ts.isCallExpression(node) &&
    ts.isPropertyAccessExpression(node.expression) &&
    ts.isPrivateIdentifier(node.expression.name) &&
    declared.has(node.expression.name.text) &&
    node.arguments.length === 1 &&
    bare(node.arguments[0]!).kind === ts.SyntaxKind.ThisKeyword;
  const count = (node: ts.Node): number => {
    let n = 0;
    const visit = (child: ts.Node): void => {
      if (isCheck(child)) n++;
      ts.forEachChild(child, visit);
    };
    visit(node);
    return n;
  };
  const twice: string[] = [];
  let calls = 0;
  const visit = (node: ts.Node): void => {
    let member: [string, ts.Node | undefined] | undefined;
    if (
      ts.isMethodDeclaration(node) ||
      ts.isGetAccessorDeclaration(node) ||
      ts.isSetAccessorDeclaration(node)
    )
      member = [node.name.getText(source), node.body];
    else if (ts.isPropertyDeclaration(node)) member = [node.name.getText(source), node.initializer];
    else if (ts.isConstructorDeclaration(node)) member = ["constructor", node.body];
    if (member !== undefined) {
      const [name, body] = member;
      const n = body === undefined ? 0 : count(body);
      calls += n;
      if (n > 1) twice.push(`${file}: ${name} (${n} checks)`);
      return;
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return { declared: [...declared].sort(), calls, twice };
}

describe("receiver checks", () => {
  it("every method of Queue and QueueReader checks its receiver once", async () => {
    const declaring: string[] = [];
    const unused: string[] = [];
    const twice: string[] = [];
    for (const path of await modules(SRC)) {
      const file = relative(SRC, path).split("\\").join("/");
      const checks = receiverChecks(file, await readFile(path, "utf8"));
      if (checks.declared.length === 0) continue;
      declaring.push(file);
      // A module that declares a check but never calls it on `this` is not being checked here.
      if (checks.calls === 0) unused.push(`${file}: ${checks.declared.join(", ")}`);
      twice.push(...checks.twice);
    }
    // The public classes' own modules are among the ones found.
    for (const file of ["queue/queue.ts", "queue/reader.ts"])
      assert.ok(declaring.includes(file), `no receiver check found in ${file}: ${declaring}`);
    assert.deepEqual(unused, []);
    assert.deepEqual(twice, []);
  });

  it("the check counts the calls of a member's own body, whatever the check is named", () => {
    const check = (members: string): string[] =>
      receiverChecks(
        "a.ts",
        `class A {\n  static #core(receiver: unknown) {\n    return receiver;\n  }\n${members}}\n`,
      ).twice;
    assert.deepEqual(
      check(
        "  m() {\n    return f(A.#core(this)) ?? g(A.#core(this));\n  }\n" +
          "  n() {\n    const core = A.#core(this);\n    return f(core, A.#core(other));\n  }\n",
      ),
      ["a.ts: m (2 checks)"],
    );
    assert.deepEqual(
      check("  m() {\n    return f(A.#core((this as A)!)) ?? g(A.#core(this));\n  }\n"),
      ["a.ts: m (2 checks)"],
    );
    assert.deepEqual(check("  set m(v) {\n    f(A.#core(this));\n    g(A.#core(this));\n  }\n"), [
      "a.ts: m (2 checks)",
    ]);
    assert.deepEqual(check("  m = () => f(A.#core(this)) ?? g(A.#core(this));\n"), [
      "a.ts: m (2 checks)",
    ]);
  });

  it("a module with a check it never calls on this is reported", () => {
    const checks = receiverChecks(
      "a.ts",
      "class A {\n  static #core(receiver: unknown) {\n    return receiver;\n  }\n" +
        "  m() {\n    return A.#other(this);\n  }\n}\n",
    );
    assert.deepEqual([checks.declared, checks.calls], [["#core"], 0]);
  });
});
