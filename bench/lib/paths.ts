import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The repository root: the nearest directory above this file whose
 * package.json is taquba's. Found by walking up, because the compiled bench
 * may live in `build/` or in any other output directory.
 */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = join(dir, "package.json");
    if (existsSync(manifest) && isTaqubaManifest(manifest)) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error("cannot find the taquba repository above the bench");
    dir = parent;
  }
}

function isTaqubaManifest(path: string): boolean {
  try {
    return (JSON.parse(readFileSync(path, "utf8")) as { name?: unknown }).name === "taquba";
  } catch {
    return false;
  }
}
