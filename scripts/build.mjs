// Builds the published package: dist/ (ESM, with the CLI) and dist/cjs/ (CommonJS), each with
// declarations and source maps that point into the shipped src/. Starts from an empty dist/
// so files of deleted sources are never packed.
import { spawn } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";

const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");

function compile(project) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [tsc, "-p", project], { stdio: "inherit" });
    child.on("error", reject);
    child.on("exit", (code) =>
      code === 0 ? resolve() : reject(new Error(`tsc -p ${project} failed (exit code ${code})`)),
    );
  });
}

rmSync("dist", { recursive: true, force: true });
// The two compilations are independent: run them side by side.
await Promise.all([compile("tsconfig.build.json"), compile("tsconfig.cjs.json")]);
// Node and TypeScript read dist/cjs/*.js and *.d.ts as CommonJS because of this file.
mkdirSync("dist/cjs", { recursive: true });
writeFileSync("dist/cjs/package.json", `${JSON.stringify({ type: "commonjs" })}\n`);
