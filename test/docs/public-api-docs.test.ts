/**
 * The public API's TSDoc: every symbol the package's entry points export
 * (`taquba`, `taquba/testing`, `taquba/dashboard`, and what they re-export)
 * says what it is in a doc comment, and so does every public member of an
 * exported class, interface or object type.
 *
 * The options a caller passes in (interfaces and object types named
 * `…Options`, `…Config`, `…Spec`, `…Init`, and the few listed in
 * {@link INPUT_TYPES}) say more: every property has an `@example`, and every
 * optional one a `@default` saying what leaving it out means (the value the
 * code applies, or what happens without it, e.g. `@default none: no limit`).
 * A required property needs no `@default`. Inherited properties count, so an
 * options type that extends another is checked whole.
 *
 * TypeScript's own compiler resolves the re-exports and aliases, so a symbol
 * exported under another name, or through a chain of modules, is found.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import ts from "typescript";

const SRC = fileURLToPath(new URL("../../../src/", import.meta.url));
/** The modules behind package.json's `exports`. */
const ENTRY_POINTS = ["index.ts", "testing.ts", "dashboard/index.ts"];
const OPTIONS_NAME = /(Options|Config|Spec|Init)$/;
/** Types a caller fills in whose names do not say so. */
const INPUT_TYPES = new Set(["JobInput", "FlowJob", "FaultRule", "PauseMatch", "RequestPrices"]);

/** The doc comment's text and tags of a declaration, or `undefined` without one. */
function docOf(node: ts.Node): { text: string; tags: Map<string, string> } | undefined {
  // A variable's comment sits on its statement.
  const holder =
    ts.isVariableDeclaration(node) && ts.isVariableDeclarationList(node.parent)
      ? node.parent.parent
      : node;
  const docs = ts.getJSDocCommentsAndTags(holder).filter((d): d is ts.JSDoc => ts.isJSDoc(d));
  if (docs.length === 0) return undefined;
  const doc = docs[docs.length - 1]!;
  const tags = new Map<string, string>();
  for (const tag of doc.tags ?? [])
    tags.set(tag.tagName.text, ts.getTextOfJSDocComment(tag.comment)?.trim() ?? "");
  return { text: ts.getTextOfJSDocComment(doc.comment)?.trim() ?? "", tags };
}

/** Whether the declaration says what it is: description text, or an `@inheritDoc`/`@deprecated` note. */
function described(node: ts.Node): boolean {
  const doc = docOf(node);
  if (doc === undefined) return false;
  return doc.text !== "" || doc.tags.has("inheritDoc") || doc.tags.has("deprecated");
}

/** Whether the declaration is tagged `@internal`: not part of the public API. */
function isInternal(node: ts.Node): boolean {
  return docOf(node)?.tags.has("internal") ?? false;
}

function isPublicMember(member: ts.Node): boolean {
  if (isInternal(member)) return false;
  if (ts.isConstructorDeclaration(member) || ts.isClassStaticBlockDeclaration(member)) return false;
  if (ts.isIndexSignatureDeclaration(member) || ts.isSemicolonClassElement(member)) return false;
  const name = (member as ts.NamedDeclaration).name;
  if (name !== undefined && ts.isPrivateIdentifier(name)) return false;
  const flags = ts.getCombinedModifierFlags(member as ts.Declaration);
  return (flags & (ts.ModifierFlags.Private | ts.ModifierFlags.Protected)) === 0;
}

function location(node: ts.Node): string {
  const file = node.getSourceFile();
  const { line } = file.getLineAndCharacterOfPosition(node.getStart());
  return `${file.fileName.slice(file.fileName.lastIndexOf("/src/") + 5)}:${line + 1}`;
}

interface Gaps {
  /** Exported symbols and public members without a doc comment saying what they are. */
  undocumented: string[];
  /** Options properties without `@default` (optional ones) or `@example`. */
  options: string[];
  /** How many exported symbols, members and options properties were checked. */
  counts: { symbols: number; members: number; options: number };
}

/** The gaps in the docs of what the modules `entries` (paths under `root`) export. */
function findGaps(program: ts.Program, root: string, entries: readonly string[]): Gaps {
  const checker = program.getTypeChecker();
  const gaps: Gaps = {
    undocumented: [],
    options: [],
    counts: { symbols: 0, members: 0, options: 0 },
  };
  const seenSymbols = new Set<ts.Symbol>();
  const seenMembers = new Set<ts.Node>();

  /**
   * Whether a base class or an implemented interface of `node` documents its
   * member `name`: editors show that comment for the override too (a store's
   * `get`, an error's `code`).
   */
  const inherited = (node: ts.Node, name: string): boolean => {
    if (!ts.isClassDeclaration(node) && !ts.isInterfaceDeclaration(node)) return false;
    for (const clause of node.heritageClauses ?? [])
      for (const base of clause.types) {
        const property = checker.getTypeAtLocation(base).getProperty(name);
        if (property?.declarations?.some(described)) return true;
      }
    return false;
  };

  /** The members of an object-like declaration, its own and (for options) inherited. */
  const checkMembers = (owner: string, node: ts.Node, isOptions: boolean): void => {
    let members: ts.Node[] = [];
    if (ts.isClassDeclaration(node) || ts.isInterfaceDeclaration(node)) members = [...node.members];
    if (ts.isClassDeclaration(node)) {
      // `constructor(readonly key: string)`: a property, documented by the constructor's `@param`.
      for (const member of node.members)
        if (ts.isConstructorDeclaration(member))
          for (const parameter of member.parameters)
            if (ts.isParameterPropertyDeclaration(parameter, member) && isPublicMember(parameter)) {
              gaps.counts.members++;
              const documented =
                described(parameter) ||
                ts
                  .getJSDocParameterTags(parameter)
                  .some((tag) => (ts.getTextOfJSDocComment(tag.comment)?.trim() ?? "") !== "");
              if (!documented)
                gaps.undocumented.push(
                  `${owner}.${parameter.name.getText()} (${location(parameter)}): a @param of the constructor`,
                );
            }
    } else if (ts.isTypeAliasDeclaration(node) && ts.isTypeLiteralNode(node.type))
      members = [...node.type.members];
    if (isOptions) {
      // Inherited properties are options too: take them from the resolved type.
      const type = checker.getTypeAtLocation(node);
      for (const property of checker.getPropertiesOfType(type))
        for (const declaration of property.declarations ?? [])
          if (!members.includes(declaration)) members.push(declaration);
    }
    for (const member of members) {
      if (!isPublicMember(member) || seenMembers.has(member)) continue;
      if (ts.isCallSignatureDeclaration(member) || ts.isConstructSignatureDeclaration(member))
        continue; // the type's own comment says what calling it does
      seenMembers.add(member);
      const name = (member as ts.NamedDeclaration).name?.getText() ?? "?";
      const where = `${owner}.${name} (${location(member)})`;
      gaps.counts.members++;
      // A getter/setter pair needs one comment between them.
      const accessorPair =
        (ts.isGetAccessorDeclaration(member) || ts.isSetAccessorDeclaration(member)) &&
        members.some(
          (other) =>
            other !== member &&
            (ts.isGetAccessorDeclaration(other) || ts.isSetAccessorDeclaration(other)) &&
            other.name.getText() === name &&
            described(other),
        );
      // Overloads need one comment among them.
      const overloaded =
        (ts.isMethodDeclaration(member) || ts.isMethodSignature(member)) &&
        members.some(
          (other) =>
            other !== member &&
            (ts.isMethodDeclaration(other) || ts.isMethodSignature(other)) &&
            other.name.getText() === name &&
            described(other),
        );
      if (!described(member) && !accessorPair && !overloaded && !inherited(node, name))
        gaps.undocumented.push(where);
      if (isOptions && (ts.isPropertySignature(member) || ts.isPropertyDeclaration(member))) {
        gaps.counts.options++;
        const tags = docOf(member)?.tags ?? new Map<string, string>();
        const missing: string[] = [];
        if (member.questionToken !== undefined && !tags.get("default")) missing.push("@default");
        if (!tags.get("example")) missing.push("@example");
        if (missing.length > 0) gaps.options.push(`${where}: ${missing.join(", ")}`);
        // A nested object type is options too.
        if (member.type !== undefined && ts.isTypeLiteralNode(member.type)) {
          const inner = member.type;
          for (const nested of inner.members) {
            if (!ts.isPropertySignature(nested) || seenMembers.has(nested)) continue;
            seenMembers.add(nested);
            gaps.counts.options++;
            const nestedWhere = `${owner}.${name}.${nested.name.getText()} (${location(nested)})`;
            const nestedTags = docOf(nested)?.tags ?? new Map<string, string>();
            const nestedMissing: string[] = [];
            if (!described(nested)) gaps.undocumented.push(nestedWhere);
            if (nested.questionToken !== undefined && !nestedTags.get("default"))
              nestedMissing.push("@default");
            if (!nestedTags.get("example")) nestedMissing.push("@example");
            if (nestedMissing.length > 0)
              gaps.options.push(`${nestedWhere}: ${nestedMissing.join(", ")}`);
          }
        }
      }
    }
  };

  for (const entry of entries) {
    const file = program.getSourceFile(root + entry);
    assert.ok(file !== undefined, entry);
    const moduleSymbol = checker.getSymbolAtLocation(file);
    assert.ok(moduleSymbol !== undefined, entry);
    for (const exported of checker.getExportsOfModule(moduleSymbol)) {
      const symbol =
        exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
      if (seenSymbols.has(symbol)) continue;
      seenSymbols.add(symbol);
      gaps.counts.symbols++;
      const name = exported.getName();
      const declarations = (symbol.declarations ?? []).filter(
        (d) => !ts.isModuleDeclaration(d) && d.getSourceFile().fileName.startsWith(root),
      );
      if (declarations.length === 0) continue;
      if (!declarations.some(described))
        gaps.undocumented.push(`${name} (${location(declarations[0]!)})`);
      const isOptions = OPTIONS_NAME.test(name) || INPUT_TYPES.has(name);
      for (const declaration of declarations) checkMembers(name, declaration, isOptions);
    }
  }
  return gaps;
}

function programOf(files: string[], host?: ts.CompilerHost): ts.Program {
  return ts.createProgram(
    files,
    {
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      types: [],
      noEmit: true,
      skipLibCheck: true,
    },
    host,
  );
}

describe("public API docs", { timeout: 60_000 }, () => {
  const gaps = findGaps(programOf(ENTRY_POINTS.map((entry) => SRC + entry)), SRC, ENTRY_POINTS);

  it("checks the whole public API", () => {
    assert.ok(
      gaps.counts.symbols > 120,
      `only ${gaps.counts.symbols} symbols: is the parsing right?`,
    );
    assert.ok(
      gaps.counts.options > 100,
      `only ${gaps.counts.options} options: is the parsing right?`,
    );
  });

  it("every exported symbol and public member has a doc comment", () => {
    assert.ok(
      gaps.undocumented.length === 0,
      "say in a TSDoc comment, briefly and in plain words, what each is or does:\n" +
        gaps.undocumented.join("\n"),
    );
  });

  it("every option has an @example, and a @default when optional", () => {
    assert.ok(
      gaps.options.length === 0,
      "options of the public API: give each an `@example` (e.g. `@example { concurrency: 8 }`) " +
        "and each optional one a `@default` that matches what the code does " +
        "(or says what leaving it out means, e.g. `@default none: no limit`):\n" +
        gaps.options.join("\n"),
    );
  });

  it("the check finds a missing comment, @default or @example", () => {
    const root = "/virtual/src/";
    const files = new Map([
      [
        `${root}index.ts`,
        'export { type Hidden, type WidgetOptions, widget } from "./widget.js";\n' +
          "/** Documented. */\nexport interface Shown {\n  /** Its name. */\n  name: string;\n  size: number;\n}\n",
      ],
      [
        `${root}widget.ts`,
        "/** Options of {@link widget}. */\nexport interface WidgetOptions extends Base {\n" +
          "  /**\n   * Widgets at once.\n   * @default 1\n   * @example { concurrency: 8 }\n   */\n" +
          "  concurrency?: number;\n" +
          '  /**\n   * Its name.\n   * @example { name: "a" }\n   */\n  name: string;\n' +
          "  /** No default, no example. */\n  label?: string;\n" +
          "  /** @internal */\n  secret?: string;\n}\n" +
          "interface Base {\n  /**\n   * Inherited.\n   * @default 0\n   */\n  depth?: number;\n}\n" +
          "export type Hidden = string;\n" +
          "/** Makes a widget. */\nexport function widget(options: WidgetOptions): void {}\n",
      ],
    ]);
    const host = ts.createCompilerHost({});
    const readFile = host.readFile.bind(host);
    const fileExists = host.fileExists.bind(host);
    const getSourceFile = host.getSourceFile.bind(host);
    host.readFile = (name) => files.get(name) ?? readFile(name);
    host.fileExists = (name) => files.has(name) || fileExists(name);
    const directoryExists = host.directoryExists?.bind(host);
    host.directoryExists = (name) =>
      root.startsWith(`${name}/`) || root === `${name}/` || (directoryExists?.(name) ?? false);
    host.getSourceFile = (name, version, onError, create) => {
      const text = files.get(name);
      return text === undefined
        ? getSourceFile(name, version, onError, create)
        : ts.createSourceFile(name, text, version, true);
    };
    const found = findGaps(programOf([`${root}index.ts`], host), root, ["index.ts"]);
    assert.deepEqual(found.undocumented, ["Hidden (widget.ts:26)", "Shown.size (index.ts:6)"]);
    assert.deepEqual(found.options, [
      "WidgetOptions.label (widget.ts:15): @default, @example",
      "WidgetOptions.depth (widget.ts:24): @example",
    ]);
  });
});
