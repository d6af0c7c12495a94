/**
 * Runs the README's runnable examples, so the documentation cannot rot. A
 * runnable example is a ```ts (or ```sh) block right after a
 * `<!-- example: name -->` line; when a ```text block follows right after an
 * `<!-- output -->` line, the example must print exactly that. Each ts
 * example is transpiled with TypeScript, its `"taquba"` imports pointed at
 * this build, and run in its own Node process in a fresh directory: it passes
 * when it exits 0 (and printed what the README says it prints). A sh example
 * is a list of `npx taquba …` command lines, each run with this build's CLI,
 * in order, in one fresh directory: each must exit 0.
 */
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";
import ts from "typescript";
import { runBuiltCli, runNodeScript } from "../cli/child.js";
import { killRunning } from "../process-group.js";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const BUILT_SRC = new URL("../../src/", import.meta.url);

interface Example {
  name: string;
  line: number;
  code: string;
  output: string | undefined;
  /** Present (true) for a ```sh example of CLI command lines. */
  shell?: true;
}

/** The runnable examples of a Markdown text, in order. */
export function extractExamples(markdown: string): Example[] {
  const lines = markdown.split("\n");
  const examples: Example[] = [];
  const fence = (from: number, lang: string): { body: string; end: number } | null => {
    if (lines[from]?.trim() !== `\`\`\`${lang}`) return null;
    const end = lines.findIndex((l, i) => i > from && l.trim() === "```");
    if (end < 0) throw new Error(`unclosed code block at README line ${from + 1}`);
    return { body: lines.slice(from + 1, end).join("\n"), end };
  };
  for (let i = 0; i < lines.length; i++) {
    const marker = /^<!-- example: ([\w-]+) -->$/.exec(lines[i]!.trim());
    if (marker === null) continue;
    const shellCode = fence(i + 1, "sh");
    const code = shellCode ?? fence(i + 1, "ts");
    if (code === null)
      throw new Error(`example ${marker[1]}: no \`\`\`ts or \`\`\`sh block after its marker`);
    let output: string | undefined;
    if (lines[code.end + 1]?.trim() === "<!-- output -->") {
      const text = fence(code.end + 2, "text");
      if (text === null)
        throw new Error(`example ${marker[1]}: no \`\`\`text block after <!-- output -->`);
      output = text.body;
    }
    examples.push({
      name: marker[1]!,
      line: i + 1,
      code: code.body,
      output,
      ...(shellCode === null ? {} : { shell: true as const }),
    });
  }
  return examples;
}

function runnableModule(code: string): string {
  const js = ts.transpileModule(code, {
    compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext },
  }).outputText;
  return js.replace(/from "taquba(\/testing)?"/g, (_, sub: string | undefined) => {
    const file = sub === undefined ? "index.js" : "testing.js";
    return `from ${JSON.stringify(new URL(file, BUILT_SRC).href)}`;
  });
}

/** The arguments of one shell command line: words split on blanks, "double-quoted" words kept whole. */
export function shellWords(line: string): string[] {
  const words: string[] = [];
  for (const match of line.matchAll(/"([^"]*)"|(\S+)/g)) words.push(match[1] ?? match[2]!);
  return words;
}

/** The CLI arguments of each `npx taquba …` line of a sh example (comments and blank lines skipped). */
export function cliCommands(code: string): string[][] {
  return code
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"))
    .map((line) => {
      const words = shellWords(line);
      if (words[0] !== "npx" || words[1] !== "taquba")
        throw new Error(`a sh example runs only "npx taquba …" lines, got ${JSON.stringify(line)}`);
      return words.slice(2);
    });
}

const readme = await readFile(join(ROOT, "README.md"), "utf8");
const examples = extractExamples(readme);

// Each example runs in a child process of its own, one after another, and their time is mostly
// Node starting and loading taquba (about 0.15 s each, 5 s in all, on an idle machine). On a
// busy machine that scales with the load: 56 s was seen, so the budget is over 4 times that, below
// the runner's 300 s. Every child is killed after 30 s, so a hung example fails on its own.
// A run the suite's timeout cut short would otherwise go on, with all it started.
after(killRunning);

describe("README examples", { timeout: 240_000 }, () => {
  it("the extractor finds marked examples and their expected output", () => {
    const found = extractExamples(
      [
        "<!-- example: a -->",
        "```ts",
        "x();",
        "```",
        "<!-- output -->",
        "```text",
        "1",
        "```",
      ].join("\n"),
    );
    assert.deepEqual(found, [{ name: "a", line: 1, code: "x();", output: "1" }]);
    assert.throws(
      () => extractExamples("<!-- example: b -->\n```py\nls\n```"),
      /no ```ts or ```sh block/,
    );
    const [shell] = extractExamples("<!-- example: c -->\n```sh\nnpx taquba stats\n```");
    assert.deepEqual(shell, {
      name: "c",
      line: 1,
      code: "npx taquba stats",
      output: undefined,
      shell: true,
    });
    assert.deepEqual(cliCommands('# a comment\nnpx taquba enqueue q "a b" --take-over\n'), [
      ["enqueue", "q", "a b", "--take-over"],
    ]);
    assert.throws(() => cliCommands("rm -rf /"), /only "npx taquba …" lines/);
  });

  it("the README has runnable examples, each with a unique name", () => {
    assert.ok(examples.length > 0);
    assert.equal(new Set(examples.map((e) => e.name)).size, examples.length);
  });

  it("schedules, rate limits, fair groups and debounce each have a runnable example with its output", () => {
    for (const name of ["schedules", "rate-limits", "fair-groups", "debounce"]) {
      const example = examples.find((e) => e.name === name);
      assert.ok(example, `README example ${name}`);
      assert.ok(example.output !== undefined, `README example ${name} shows its output`);
    }
  });

  it("the README runs the order pipeline (a flow and a transaction) and the KV example", () => {
    const names = examples.map((e) => e.name);
    for (const name of ["order-pipeline", "kv"]) {
      assert.ok(names.includes(name), `no runnable ${name} example`);
      assert.notEqual(examples.find((e) => e.name === name)?.output, undefined);
    }
    const pipeline = examples.find((e) => e.name === "order-pipeline")!.code;
    for (const call of ["enqueueFlow(", "ctx.transaction(", "childResults("])
      assert.ok(pipeline.includes(call), `the order pipeline does not use ${call}`);
  });

  for (const example of examples) {
    it(`${example.name} (README line ${example.line}) runs${example.output === undefined ? "" : " and prints what the README says"}`, async () => {
      const dir = await mkdtemp(join(tmpdir(), "taquba-readme-"));
      try {
        let stdout = "";
        if (example.shell) {
          for (const args of cliCommands(example.code)) {
            const result = await runBuiltCli(args, dir);
            const line = `npx taquba ${args.join(" ")}`;
            assert.equal(
              result.code,
              0,
              `example ${example.name}: ${line} failed:\n${result.stderr}`,
            );
            stdout += result.stdout;
          }
        } else {
          const file = join(dir, `${example.name}.mjs`);
          await writeFile(file, runnableModule(example.code));
          const result = await runNodeScript(pathToFileURL(file).pathname, [], dir);
          assert.equal(result.code, 0, `example ${example.name} failed:\n${result.stderr}`);
          stdout = result.stdout;
        }
        if (example.output !== undefined) assert.equal(stdout.trimEnd(), example.output.trimEnd());
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  }
});
