import { createRequire } from "node:module";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { repoRoot } from "../lib/paths.js";

/** The separate package that holds the peer libraries (its own lock file). */
export const PEERS_DIR = join(repoRoot(), "bench", "peers");

/**
 * Import a peer library from `bench/peers/node_modules`. The compiled bench
 * lives in `build/`, where Node's resolution would never look there, so the
 * module is resolved from the peers package explicitly. CommonJS libraries
 * arrive as their `module.exports`.
 */
export async function importPeer<T>(name: string): Promise<T> {
  const require = createRequire(join(PEERS_DIR, "package.json"));
  let resolved: string;
  try {
    resolved = require.resolve(name);
  } catch (error) {
    throw new Error(`peer library ${name} is not installed: run npm ci --prefix bench/peers`, {
      cause: error,
    });
  }
  const module = (await import(pathToFileURL(resolved).href)) as { default?: unknown };
  // CommonJS: named exports may be missing from the ESM facade; `default` is module.exports.
  return (module.default ?? module) as T;
}

/** The version of an installed peer library. */
export function peerVersion(name: string): string {
  const require = createRequire(join(PEERS_DIR, "package.json"));
  const manifest = require(`${name}/package.json`) as { version?: string };
  return manifest.version ?? "unknown";
}
