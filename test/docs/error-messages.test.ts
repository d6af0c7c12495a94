/**
 * One style for bad input: every `new InvalidArgumentError(message)` in
 * `src/` words its message as `src/validate.ts` does,
 *
 *     Expected `options.leaseMs` to be a positive integer number of milliseconds, got -5
 *
 * naming the argument, what was expected and what was got. A message passes
 * when it is built by `expectationMessage` (alone, at the start of a template
 * or of a `+` concatenation), or is a literal or template that starts with
 * "Expected `". Checks that throw through `invalidArgument` or
 * `invalidArgumentGot` pass by construction and are not looked at. Anything
 * else (a message in a variable, too) fails unless it is in {@link ALLOWED}
 * with the reason it may differ. TypeScript's own parser finds the calls, so
 * a comment or a string cannot hide one.
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { relative } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { modules } from "./source-files.js";

const SRC = fileURLToPath(new URL("../../../src/", import.meta.url));

/** The helpers of `src/validate.ts` whose result is a message in the one style. */
const MESSAGE_HELPERS = new Set(["expectationMessage"]);

/**
 * Messages that may keep another wording: the module (relative to `src/`),
 * how the message's source text starts, and why.
 */
const ALLOWED: ReadonlyArray<{ file: string; starts: string; reason: string }> = [
  {
    file: "queue/telemetry/load.ts",
    // "\u0024{" is "${" (a plain string may not hold the latter).
    starts: "`\\`\u0024{arg}\\` needs the optional package",
    reason:
      "the option's value is fine; what is missing is a package, which the template cannot say",
  },
];

function isHelperCall(node: ts.Expression): boolean {
  return (
    ts.isCallExpression(node) &&
    ts.isIdentifier(node.expression) &&
    MESSAGE_HELPERS.has(node.expression.text)
  );
}

/** Whether the message `node` is, as far as the source shows, in the one style. */
function inStyle(node: ts.Expression): boolean {
  if (ts.isParenthesizedExpression(node)) return inStyle(node.expression);
  if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node))
    return node.text.startsWith("Expected `");
  if (ts.isTemplateExpression(node)) {
    if (node.head.text.startsWith("Expected `")) return true;
    const first = node.templateSpans[0];
    return node.head.text === "" && first !== undefined && isHelperCall(first.expression);
  }
  if (ts.isBinaryExpression(node) && node.operatorToken.kind === ts.SyntaxKind.PlusToken)
    return inStyle(node.left);
  return isHelperCall(node);
}

interface Message {
  /** `path:line` of the call. */
  where: string;
  file: string;
  /** The message argument's source text (`""` when there is none). */
  text: string;
  inStyle: boolean;
}

/** Every `new InvalidArgumentError(…)` of `text`, the module `file` (relative to `src/`). */
function messages(file: string, text: string): Message[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const found: Message[] = [];
  const visit = (node: ts.Node): void => {
    if (
      ts.isNewExpression(node) &&
      ts.isIdentifier(node.expression) &&
      node.expression.text === "InvalidArgumentError"
    ) {
      const message = node.arguments?.[0];
      const line = source.getLineAndCharacterOfPosition(node.getStart(source)).line + 1;
      found.push({
        where: `${file}:${line}`,
        file,
        text: message === undefined ? "" : message.getText(source),
        inStyle: message !== undefined && inStyle(message),
      });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

function allowedBy(message: Message): (typeof ALLOWED)[number] | undefined {
  return ALLOWED.find((a) => a.file === message.file && message.text.startsWith(a.starts));
}

describe("bad-input messages", { timeout: 20_000 }, () => {
  it('every InvalidArgumentError of src/ says "Expected `x` to be …, got …"', async () => {
    const all: Message[] = [];
    for (const path of await modules(SRC))
      all.push(...messages(relative(SRC, path), await readFile(path, "utf8")));
    assert.ok(all.length > 5, `only ${all.length} found: is the parsing right?`);
    const offStyle = all.filter((m) => !m.inStyle && allowedBy(m) === undefined);
    assert.deepEqual(
      offStyle.map((m) => `${m.where}: ${m.text.slice(0, 100)}`),
      [],
      "bad-input messages in another style: build them with invalidArgument, " +
        "invalidArgumentGot or expectationMessage (src/validate.ts), so they read " +
        '"Expected `x` to be …, got …" (or allow one here, with the reason)',
    );
    const unused = ALLOWED.filter((a) => !all.some((m) => !m.inStyle && allowedBy(m) === a));
    assert.deepEqual(unused, [], "allowed messages that are no longer off-style: remove them");
  });

  it("the check tells the style from others", () => {
    // Snippets write `#{` for a template's `${` (a plain string may not hold the latter).
    const check = (code: string): boolean[] =>
      messages("x.ts", code.replaceAll("#{", "\u0024{")).map((m) => m.inStyle);
    assert.deepEqual(
      check(
        [
          'new InvalidArgumentError("Expected `a` to be b, got c");',
          "new InvalidArgumentError(`Expected \\`#{arg}\\` to be b, got #{c}`);",
          'new InvalidArgumentError(expectationMessage("a", "b", "c"), { cause });',
          "new InvalidArgumentError(`#{expectationMessage(a, b, c)}: more`);",
          'new InvalidArgumentError(expectationMessage(a, b, c) + " (why)");',
        ].join("\n"),
      ),
      [true, true, true, true, true],
    );
    assert.deepEqual(
      check(
        [
          'new InvalidArgumentError("list: limit must be a number >= 1");',
          "new InvalidArgumentError(`put #{key}: body must be a Uint8Array`);",
          "new InvalidArgumentError(`#{name}: expected a string`);",
          "new InvalidArgumentError(message);",
          "new InvalidArgumentError();",
          'new InvalidArgumentError("Expected each job to be once");',
          '// new InvalidArgumentError("not code")',
        ].join("\n"),
      ),
      [false, false, false, false, false, false],
    );
  });
});
