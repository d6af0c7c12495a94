/**
 * The layout of `src/`: every module opens with a comment saying what it
 * owns, before its imports (a comment below an import is read as that
 * import's, and moves with it when imports are sorted); every module stays
 * small enough to read whole; and no module imports itself back through
 * others.
 *
 * Only imports that load a module count towards a cycle: `import type` and
 * `export type` are erased when compiling, so a cycle of them never reaches
 * the runtime, and the queue's modules name each other's types freely.
 * Every other relative `import … from` or `export … from`, and a bare
 * `import "./x.js"`, counts (an `import { type A }` too, to be safe). A
 * dynamic `import()` runs after every module has loaded and does not count.
 * TypeScript's own parser finds the statements, so a comment or a string
 * inside one cannot hide it.
 *
 * No module keeps mutable state of its own. State belongs to the object
 * whose lifetime it shares, so two queues, readers or CLI runs in one process
 * never see each other's. The check flags, outside any function or class:
 * - every `let` and `var`, also one inside a top-level block, `if`, `try` or
 *   `for` (a `var` there is hoisted to module scope);
 * - every `const x = new C(…)` and `export default new C(…)` (also behind
 *   parentheses, `as`, `satisfies` or `!`, and `new globalThis.C(…)`), except
 *   what makes a value nothing can change: `TextEncoder`, `TextDecoder`, a
 *   `RegExp` whose flags are absent or a literal without `g` or `y` (those
 *   keep a `lastIndex`), an empty typed array (`new Uint8Array(0)`), and a
 *   `Map` or `Set` declared exactly `ReadonlyMap<…>` or `ReadonlySet<…>` (a
 *   lookup table; a union with a mutable type does not count).
 * It does not flag module-scope array or object literals (`const xs = []`,
 * `const o = {}`), a `new` nested inside another expression (`{ m: new
 * Map() }`, `f(new Map())`), state made by a plain call (`f()`), or a
 * regular expression literal with `g` or `y`: keep those constant by
 * convention (`readonly`, `as const`, `Readonly<…>`). `MODULE_STATE_ALLOWED`
 * lists the state that stays, with why.
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { dirname, join, relative, resolve } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { bare, modules } from "./source-files.js";

const SRC = fileURLToPath(new URL("../../../src/", import.meta.url));
const MAX_LINES = 450;

function lineCount(text: string): number {
  const lines = text.split("\n").length;
  return text.endsWith("\n") ? lines - 1 : lines;
}

/**
 * The relative module a top-level `import`/`export` statement loads, or
 * `undefined` for any other statement, a bare specifier, or a type-only one.
 */
function loadedSpecifier(statement: ts.Statement): string | undefined {
  let specifier: ts.Expression | undefined;
  if (ts.isImportDeclaration(statement)) {
    if (statement.importClause?.isTypeOnly) return undefined;
    specifier = statement.moduleSpecifier;
  } else if (ts.isExportDeclaration(statement)) {
    if (statement.isTypeOnly) return undefined;
    specifier = statement.moduleSpecifier;
  }
  if (specifier === undefined || !ts.isStringLiteral(specifier)) return undefined;
  return /^\.{1,2}\//.test(specifier.text) ? specifier.text : undefined;
}

/** The modules `file` loads, as paths of `.ts` files. */
function loads(file: string, text: string): string[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
  const targets: string[] = [];
  for (const statement of source.statements) {
    const specifier = loadedSpecifier(statement);
    if (specifier === undefined) continue;
    targets.push(resolve(dirname(file), specifier.replace(/\.js$/, ".ts")));
  }
  return targets;
}

/** Typed arrays: one made empty (no length, `0` or `[]`) holds nothing that can change. */
const TYPED_ARRAYS: ReadonlySet<string> = new Set([
  "Uint8Array",
  "Uint16Array",
  "Uint32Array",
  "Int8Array",
  "Int16Array",
  "Int32Array",
  "Float32Array",
  "Float64Array",
  "BigInt64Array",
  "BigUint64Array",
]);

/** Whether `new cls(...args)` makes a value nothing can change (see the module's comment). */
function valueLike(cls: string, args: readonly ts.Expression[]): boolean {
  if (cls === "TextEncoder" || cls === "TextDecoder") return true;
  if (cls === "RegExp") {
    const flags = args[1];
    if (flags === undefined) return true;
    return ts.isStringLiteralLike(flags) && !/[gy]/.test(flags.text);
  }
  if (TYPED_ARRAYS.has(cls)) {
    const [length] = args;
    if (args.length === 0) return true;
    if (args.length !== 1 || length === undefined) return false;
    if (ts.isNumericLiteral(length)) return length.text === "0";
    return ts.isArrayLiteralExpression(length) && length.elements.length === 0;
  }
  return false;
}

/**
 * The class `value` makes with `new`, as written (`Map`, `globalThis.Map`),
 * when that makes state: `undefined` for no `new`, a value-like class, or a
 * `Map`/`Set` declared exactly `ReadonlyMap`/`ReadonlySet` (not in a union).
 */
function madeState(
  source: ts.SourceFile,
  value: ts.Expression | undefined,
  type: ts.TypeNode | undefined,
): string | undefined {
  if (value === undefined) return undefined;
  const made = bare(value);
  if (!ts.isNewExpression(made)) return undefined;
  const callee = made.expression;
  let cls: string | undefined;
  if (ts.isIdentifier(callee)) cls = callee.text;
  else if (
    ts.isPropertyAccessExpression(callee) &&
    ts.isIdentifier(callee.expression) &&
    callee.expression.text === "globalThis"
  )
    cls = callee.name.text;
  const shown = callee.getText(source);
  if (cls === undefined) return shown;
  if (valueLike(cls, made.arguments ?? [])) return undefined;
  const readOnly =
    type !== undefined &&
    ts.isTypeReferenceNode(type) &&
    ts.isIdentifier(type.typeName) &&
    type.typeName.text === `Readonly${cls}`;
  return (cls === "Map" || cls === "Set") && readOnly ? undefined : shown;
}

/**
 * The module-scope mutable state `text` declares (see the module's comment),
 * as `let x`, `var x`, `const x = new C` or `export default new C`.
 */
function moduleState(file: string, text: string): string[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    // What a function or class declares lives as long as a call or an instance.
    if (ts.isFunctionLike(node) || ts.isClassLike(node)) return;
    if (ts.isVariableDeclarationList(node)) {
      const constant = (node.flags & ts.NodeFlags.Const) !== 0;
      const keyword = (node.flags & ts.NodeFlags.Let) !== 0 ? "let" : "var";
      for (const declaration of node.declarations) {
        const name = declaration.name.getText(source);
        if (!constant) {
          found.push(`${keyword} ${name}`);
          continue;
        }
        const made = madeState(source, declaration.initializer, declaration.type);
        if (made !== undefined) found.push(`const ${name} = new ${made}`);
      }
    } else if (ts.isExportAssignment(node)) {
      const made = madeState(source, node.expression, undefined);
      if (made !== undefined)
        found.push(`export ${node.isExportEquals ? "=" : "default"} new ${made}`);
    }
    ts.forEachChild(node, visit);
  };
  for (const statement of source.statements) visit(statement);
  return found;
}

/**
 * Module-scope state that stays, as the check names it, with why. Keep it
 * short: give new state to the object that owns its lifetime instead.
 */
const MODULE_STATE_ALLOWED: ReadonlyMap<string, string> = new Map([
  [
    "cli/main.ts: const io = new ProcessIO",
    "the process's entry point: one CLI run per process, and nothing imports it",
  ],
  [
    "queue/queue.ts: let queueOf",
    "written once, by Queue's static block: the package's internal open path " +
      "reaches the private constructor through it, and nothing else assigns it",
  ],
  [
    "cli/terminal-text.ts: const CONTROL_EACH = new RegExp",
    "global for replacing every match, and used only with String.replace, " +
      "which sets its lastIndex back to 0",
  ],
]);

/** One cycle of `graph`, as the modules along it (first repeated last), or `undefined`. */
function findCycle(graph: Map<string, string[]>): string[] | undefined {
  const done = new Set<string>();
  const path: string[] = [];
  const onPath = new Set<string>();
  const visit = (node: string): string[] | undefined => {
    if (onPath.has(node)) return [...path.slice(path.indexOf(node)), node];
    if (done.has(node)) return undefined;
    path.push(node);
    onPath.add(node);
    for (const next of graph.get(node) ?? []) {
      const cycle = visit(next);
      if (cycle !== undefined) return cycle;
    }
    path.pop();
    onPath.delete(node);
    done.add(node);
    return undefined;
  };
  for (const node of graph.keys()) {
    const cycle = visit(node);
    if (cycle !== undefined) return cycle;
  }
  return undefined;
}

describe("source layout", { timeout: 20_000 }, () => {
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

  it(`every module of src/ is under ${MAX_LINES} lines`, async () => {
    const files = await modules(SRC);
    assert.ok(files.length > 100, String(files.length));
    const long: string[] = [];
    for (const file of files) {
      const lines = lineCount(await readFile(file, "utf8"));
      if (lines >= MAX_LINES) long.push(`${relative(SRC, file)}: ${lines} lines`);
    }
    assert.deepEqual(
      long,
      [],
      `modules of ${MAX_LINES} lines or more; split each by concern (one coherent ` +
        `part per new module, with a header saying what it owns):\n${long.join("\n")}`,
    );
  });

  it("no module of src/ loads itself back through its imports", async () => {
    const files = await modules(SRC);
    const known = new Set(files);
    const graph = new Map<string, string[]>();
    const unresolved: string[] = [];
    for (const file of files) {
      const targets = loads(file, await readFile(file, "utf8"));
      for (const target of targets) {
        if (!known.has(target))
          unresolved.push(`${relative(SRC, file)} -> ${relative(SRC, target)}`);
      }
      graph.set(file, targets);
    }
    assert.deepEqual(unresolved, [], "relative imports that name no .ts module of src/");
    const importing = [...graph.values()].filter((targets) => targets.length > 0).length;
    assert.ok(importing > 100, `only ${importing} modules import another: is the parsing right?`);
    const cycle = findCycle(graph);
    assert.equal(
      cycle?.map((file) => relative(SRC, file)).join(" -> "),
      undefined,
      "an import cycle: move what the modules share into a module of its own, " +
        "or import moved names from where they now live rather than re-exporting them",
    );
  });

  it("no module of src/ keeps mutable state at module scope", async () => {
    const files = await modules(SRC);
    assert.ok(files.length > 100, String(files.length));
    const found: string[] = [];
    for (const file of files) {
      const name = relative(SRC, file);
      for (const state of moduleState(file, await readFile(file, "utf8")))
        found.push(`${name}: ${state}`);
    }
    assert.deepEqual(
      [...MODULE_STATE_ALLOWED.keys()].filter((allowed) => !found.includes(allowed)),
      [],
      "allowed module state that is no longer there: take it off MODULE_STATE_ALLOWED",
    );
    assert.deepEqual(
      found.filter((state) => !MODULE_STATE_ALLOWED.has(state)),
      [],
      "module-scope mutable state: give it to the object whose lifetime it shares " +
        "(a field of the queue, reader, log or run that owns it), or declare a constant " +
        "lookup table ReadonlyMap/ReadonlySet",
    );
  });

  it("the module-state check sees let, var and objects made at module scope, not values", () => {
    const file = join(SRC, "a.ts");
    assert.deepEqual(
      moduleState(
        file,
        "let a = 1;\nexport let b: number;\nvar c;\nconst d = new WeakMap<object, number>();\n" +
          "export const e = new Set([1]);\nconst f = new Map(), g = 2;\n",
      ),
      [
        "let a",
        "let b",
        "var c",
        "const d = new WeakMap",
        "const e = new Set",
        "const f = new Map",
      ],
    );
    assert.deepEqual(
      moduleState(
        file,
        "const ctl = new AbortController();\n" +
          "if (process.env.X) {\n  var hoisted = 1;\n}\n" +
          "try {\n  let t = 1;\n} catch {}\n" +
          "for (let i = 0; i < 1; i++) {}\n" +
          "export default new Map<string, number>();\n" +
          "const m2 = new globalThis.Map<string, number>();\n" +
          "const ro: ReadonlyMap<string, number> | Map<string, number> = new Map();\n" +
          "const rs: ReadonlySet<number> = new Map() as never;\n" +
          "const p = (new Map() as Map<string, number>);\n" +
          'const r = new RegExp("a", "g");\nconst y = new RegExp("a", "uy");\n' +
          'const rf = new RegExp("a", flags);\n' +
          "const u = new Uint8Array(4);\nconst v = new Uint8Array([1]);\n" +
          "const w = new io.Stream();\n",
      ),
      [
        "const ctl = new AbortController",
        "var hoisted",
        "let t",
        "let i",
        "export default new Map",
        "const m2 = new globalThis.Map",
        "const ro = new Map",
        "const rs = new Map",
        "const p = new Map",
        "const r = new RegExp",
        "const y = new RegExp",
        "const rf = new RegExp",
        "const u = new Uint8Array",
        "const v = new Uint8Array",
        "const w = new io.Stream",
      ],
    );
    assert.deepEqual(
      moduleState(
        file,
        "const a: ReadonlySet<number> = new Set([1]);\nconst b: ReadonlyMap<string, number> = new Map();\n" +
          "const c = 1;\nfunction f() {\n  let x = new Map();\n  if (x) {\n    var z = 1;\n  }\n  return x;\n}\n" +
          "class C {\n  #m = new Map();\n  static {\n    let q = 1;\n  }\n}\nconst s = `let y = 1;`;\n" +
          "const h = () => {\n  let k = new Set();\n};\n" +
          "const te = new TextEncoder();\nconst td = new globalThis.TextDecoder();\n" +
          'const r1 = new RegExp("a");\nconst r2 = new RegExp(`^a$`, "u");\n' +
          "const e0 = new Uint8Array(0);\nconst e1 = new Uint8Array();\nconst e2 = new Uint8Array([]);\n" +
          "export const LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;\n" +
          "export default class D {}\n",
      ),
      [],
    );
  });

  it("only util/timers.ts takes turns with setImmediate; the rest use what it captured", async () => {
    // A global `setImmediate` is missing in some test environments (Jest's jsdom), and one
    // read from `node:timers` on each call would follow a test's fake timers in the
    // CommonJS build only: util/timers.ts captures Node's once, when it loads.
    const files = await modules(SRC);
    const own = join(SRC, "util", "timers.ts");
    const found: string[] = [];
    for (const file of files) {
      if (file === own) continue;
      const text = await readFile(file, "utf8");
      for (const match of text.matchAll(/\b(?:set|clear)Immediate\b|"node:timers"/g))
        found.push(`${relative(SRC, file)}: ${match[0]}`);
    }
    assert.deepEqual(found, []);
  });

  it("the cycle check sees a cycle and ignores type-only imports", () => {
    const a = join(SRC, "a.ts");
    const b = join(SRC, "b.ts");
    assert.deepEqual(
      loads(a, 'import type { B } from "./b.js";\nexport type { C } from "./b.js";\n'),
      [],
    );
    assert.deepEqual(
      loads(a, 'import {\n  type B,\n  c,\n} from "./b.js";\nexport * from "./b.js";\n'),
      [b, b],
    );
    assert.deepEqual(loads(a, 'import "./b.js";\n  /** import x from "./c.js" */\n'), [b]);
    assert.deepEqual(
      loads(
        a,
        'import {\n  // the core\'s own clock\n  now,\n} from "./b.js";\n' +
          'export {\n  // it\'s re-exported\n  type C,\n  d,\n} from "./b.js";\n',
      ),
      [b, b],
    );
    assert.deepEqual(loads(a, "const s = \"import x from './c.js'\";\nexport { e };\n"), []);
    assert.deepEqual(
      findCycle(
        new Map([
          [a, [b]],
          [b, [a]],
        ]),
      ),
      [a, b, a],
    );
    assert.equal(
      findCycle(
        new Map([
          [a, [b]],
          [b, []],
        ]),
      ),
      undefined,
    );
  });
});
