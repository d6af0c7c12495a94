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
 * No module keeps mutable state of its own: a module-scope `let` or `var`,
 * or a module-scope `Map`, `Set`, `WeakMap` or `WeakSet` (a lookup table
 * declared `ReadonlyMap` or `ReadonlySet` is a constant). State belongs to
 * the object whose lifetime it shares, so two queues, readers or CLI runs in
 * one process never see each other's.
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { dirname, join, relative, resolve } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { modules } from "./source-files.js";

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

/** Collections a module-scope constant may not hold unless typed read-only. */
const MUTABLE_COLLECTIONS = new Set(["Map", "Set", "WeakMap", "WeakSet"]);

/**
 * The module-scope mutable state `text` declares, as `let x`, `var x` or
 * `const x = new Map` (and the like): a `ReadonlyMap`/`ReadonlySet`
 * annotation makes a collection a constant lookup table.
 */
function moduleState(file: string, text: string): string[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
  const found: string[] = [];
  for (const statement of source.statements) {
    if (!ts.isVariableStatement(statement)) continue;
    const list = statement.declarationList;
    const constant = (list.flags & ts.NodeFlags.Const) !== 0;
    for (const declaration of list.declarations) {
      const name = declaration.name.getText(source);
      if (!constant) {
        found.push(`${(list.flags & ts.NodeFlags.Let) !== 0 ? "let" : "var"} ${name}`);
        continue;
      }
      const init = declaration.initializer;
      if (init === undefined || !ts.isNewExpression(init)) continue;
      const made = init.expression.getText(source);
      if (!MUTABLE_COLLECTIONS.has(made)) continue;
      const type = declaration.type?.getText(source) ?? "";
      if (/^Readonly(?:Map|Set)</.test(type)) continue;
      found.push(`const ${name} = new ${made}`);
    }
  }
  return found;
}

/**
 * Module-scope state that stays, by module, with why: empty, and to be kept
 * so (give the state to the object that owns its lifetime instead).
 */
const MODULE_STATE_ALLOWED: ReadonlyMap<string, string> = new Map();

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
      if (MODULE_STATE_ALLOWED.has(name)) continue;
      for (const state of moduleState(file, await readFile(file, "utf8")))
        found.push(`${name}: ${state}`);
    }
    assert.deepEqual(
      found,
      [],
      "module-scope mutable state: give it to the object whose lifetime it shares " +
        "(a field of the queue, reader, log or run that owns it), or declare a constant " +
        "lookup table ReadonlyMap/ReadonlySet",
    );
  });

  it("the module-state check sees let, var and mutable collections, not constants", () => {
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
        "const a: ReadonlySet<number> = new Set([1]);\nconst b: ReadonlyMap<string, number> = new Map();\n" +
          "const c = 1;\nfunction f() {\n  let x = new Map();\n  return x;\n}\n" +
          "class C {\n  #m = new Map();\n}\nconst s = `let y = 1;`;\n",
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
