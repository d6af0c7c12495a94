// Owns the CLI's `--version`: the version field of the taquba package.json this file ships in.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The version in the nearest enclosing package.json named "taquba": the package
 * root both from the built CLI (`dist/cli/`) and from a test build.
 */
export function packageVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = readManifest(join(dir, "package.json"));
    if (manifest?.name === "taquba" && typeof manifest.version === "string")
      return manifest.version;
    const parent = dirname(dir);
    if (parent === dir) throw new Error("cannot find the package.json of taquba");
    dir = parent;
  }
}

function readManifest(path: string): { name?: unknown; version?: unknown } | undefined {
  try {
    return JSON.parse(readFileSync(path, "utf8")) as { name?: unknown; version?: unknown };
  } catch {
    return undefined;
  }
}
