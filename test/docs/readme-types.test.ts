/**
 * Type-checks every ```ts block of the README against the package's sources, so a code sample
 * that names an option, method or result field the package does not have fails here. The
 * runnable examples (readme-examples.test.ts) are only transpiled and run, which checks no
 * types: an option the package ignores, or a misspelt one, would still run. The other blocks
 * are fragments: the names they take as given (`queue`, `store`, `claim`, an app's own
 * functions) are declared in {@link AMBIENT}, each block is its own module, and `"taquba"`,
 * `"taquba/testing"` and `"taquba/dashboard"` resolve to the sources behind package.json's
 * exports.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import ts from "typescript";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const README = join(ROOT, "README.md");
/** Where the blocks appear to live: inside the repository, so node_modules resolves. */
const VIRTUAL = join(ROOT, ".readme-blocks");

/** What the README's fragments take as given: the app around them. */
const AMBIENT = `
declare const queue: import("taquba").Queue;
declare const store: import("taquba").ObjectStore;
declare const claim: import("taquba").Claim;
declare const handler: import("taquba").Handler;
declare const orderId: string;
declare const Queue: typeof import("taquba").Queue;
declare const runWorker: typeof import("taquba").runWorker;
declare const message: { body: string; traceparent?: string; tracestate?: string };
declare const log: { info(fields: object): void };
declare function alert(text: string): void;
declare function sendEmail(message: unknown, options: { signal: AbortSignal }): Promise<void>;
declare function isAdmin(req: import("node:http").IncomingMessage): boolean;
declare const metricReader: unknown;
declare const traceExporter: unknown;
declare class NodeSDK { constructor(options: object); start(): void }
`;

interface Block {
  line: number;
  code: string;
}

/** Every ```ts block of a Markdown text, with the line its fence opens on. */
export function tsBlocks(markdown: string): Block[] {
  const lines = markdown.split("\n");
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i]!.trim() !== "```ts") continue;
    const end = lines.findIndex((l, j) => j > i && l.trim() === "```");
    if (end < 0) throw new Error(`unclosed code block at README line ${i + 1}`);
    blocks.push({ line: i + 1, code: lines.slice(i + 1, end).join("\n") });
    i = end;
  }
  return blocks;
}

/** The type errors of each block, as `README line N: message` lines. */
function typeErrors(blocks: Block[]): string[] {
  const files = new Map<string, string>();
  files.set(join(VIRTUAL, "ambient.d.ts"), AMBIENT);
  const lineOf = new Map<string, number>();
  for (const block of blocks) {
    const file = join(VIRTUAL, `block-${block.line}.ts`);
    // Each block is a module of its own (top-level await, its own `const queue`).
    files.set(file, `${block.code}\nexport {};\n`);
    lineOf.set(file, block.line);
  }
  const options: ts.CompilerOptions = {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    lib: ["lib.es2022.d.ts", "lib.dom.d.ts"],
    types: ["node"],
    typeRoots: [join(ROOT, "node_modules", "@types")],
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    baseUrl: ROOT,
    paths: {
      taquba: [join(ROOT, "src", "index.ts")],
      "taquba/testing": [join(ROOT, "src", "testing.ts")],
      "taquba/dashboard": [join(ROOT, "src", "dashboard", "index.ts")],
    },
  };
  const host = ts.createCompilerHost(options);
  const { fileExists, readFile, getSourceFile } = host;
  host.fileExists = (name) => files.has(name) || fileExists.call(host, name);
  host.readFile = (name) => files.get(name) ?? readFile.call(host, name);
  host.getSourceFile = (name, language, ...rest) => {
    const source = files.get(name);
    if (source !== undefined) return ts.createSourceFile(name, source, language);
    return getSourceFile.call(host, name, language, ...rest);
  };
  const program = ts.createProgram([...files.keys()], options, host);
  const errors: string[] = [];
  for (const diagnostic of ts.getPreEmitDiagnostics(program)) {
    const file = diagnostic.file?.fileName;
    const text = ts.flattenDiagnosticMessageText(diagnostic.messageText, "\n");
    const block = file === undefined ? undefined : lineOf.get(file);
    if (block === undefined) {
      errors.push(`${file ?? "(global)"}: ${text}`);
      continue;
    }
    const { line } = diagnostic.file!.getLineAndCharacterOfPosition(diagnostic.start ?? 0);
    errors.push(`README line ${block + 1 + line}: ${text}`);
  }
  return errors;
}

describe("README code blocks", { timeout: 240_000 }, () => {
  it("the extractor finds each ts block and its line", () => {
    assert.deepEqual(tsBlocks("a\n```ts\nx();\n```\n```sh\nls\n```\n```ts\ny();\n```"), [
      { line: 2, code: "x();" },
      { line: 8, code: "y();" },
    ]);
  });

  it("a block that names something the package lacks fails the check", () => {
    const errors = typeErrors([
      { line: 1, code: 'import { Queue } from "taquba";\nawait queue.enqueueRenamed("q", "x");' },
      { line: 5, code: "await queue.enqueue('q', 'x', { priorty: 1 });" },
    ]);
    assert.equal(errors.length, 2, errors.join("\n"));
    assert.match(errors[0]!, /^README line 3: .*enqueueRenamed/);
    assert.match(errors[1]!, /^README line 6: .*priorty/);
  });

  it("every ts block of the README type-checks against the package", () => {
    const blocks = tsBlocks(readFileSync(README, "utf8"));
    assert.ok(blocks.length >= 20, String(blocks.length));
    const errors = typeErrors(blocks);
    assert.deepEqual(errors, [], `\n${errors.join("\n")}`);
  });
});
