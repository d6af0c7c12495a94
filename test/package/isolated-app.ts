// Owns what keeps the packed-package test independent of the machine it runs on: a check that
// no directory Node searches for an app's packages, outside the app, holds one of taquba's
// optional peers (a stray `node_modules` above the temporary directory would be found in place
// of the SDK the app lacks, and its cloud client would wait on the network); the environment
// of every command (no npm variables of an `npm test` around us, npm offline with a cache of
// its own); and the runtime dependencies packed from the repository's node_modules, so that
// installing the tarball needs neither the registry nor a warm npm cache.
import { cpSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join, relative, sep } from "node:path";
import { run } from "../process-group.js";

interface Manifest {
  name: string;
  version: string;
  dependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
  scripts?: Record<string, string>;
}

const readManifest = (dir: string): Manifest =>
  JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as Manifest;

/**
 * The environment of a user's shell: without the npm_* variables of the `npm test` around us.
 * With a `cache` (a directory of the test's own), npm is also told to stay offline and use it,
 * so that no npm or npx call can wait on the network or depend on what the machine's cache
 * holds; without one, npm uses the registry and the user's cache as a user's would.
 */
export function userEnv(cache?: string): NodeJS.ProcessEnv {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.toLowerCase().startsWith("npm_")),
  );
  return cache === undefined
    ? env
    : { ...env, npm_config_offline: "true", npm_config_cache: cache };
}

/** The optional peer dependencies of the package at `root`: the SDKs an app may leave out. */
export function optionalPeers(root: string): string[] {
  const meta = readManifest(root).peerDependenciesMeta ?? {};
  return Object.keys(meta).filter((name) => meta[name]?.optional === true);
}

/** Prints the directories `require` searches for a package from a file in `process.argv[1]`. */
const LOOKUP_PATHS = `const { createRequire } = require("node:module");
const { join } = require("node:path");
console.log(JSON.stringify(createRequire(join(process.argv[1], "app.js")).resolve.paths("x")));`;

/**
 * Each of `packages` that `node` would find for a file in `dir` (a directory the test just
 * made, so nothing in it yet), as "package in directory". The directories are that Node's own
 * list, asked of it in `env`: every `node_modules` from `dir` up to the root, then NODE_PATH
 * and the global folders (which `require` also searches; `import` searches the first part
 * only). An app in a folder of `dir` searches its own node_modules first, then these.
 */
export async function packagesAbove(
  node: string,
  dir: string,
  packages: string[],
  env: NodeJS.ProcessEnv,
): Promise<string[]> {
  const asked = await run(node, ["-e", LOOKUP_PATHS, dir], { cwd: dir, env, timeoutMs: 30_000 });
  if (asked.code !== 0) throw new Error(`listing ${node}'s lookup paths failed:\n${asked.stderr}`);
  return (JSON.parse(asked.stdout) as string[]).flatMap((searched) =>
    packages
      .filter((name) => existsSync(join(searched, name)))
      .map((name) => `${name} in ${searched}`),
  );
}

/**
 * The packages the package at `root` depends on at run time, with theirs, packed into `dest`
 * from the repository's node_modules (what `npm ci` installed there from the lockfile): the
 * tarballs' paths. Each copy drops its `prepare` script, which npm runs for a package installed
 * from a file and never for one from the registry.
 */
export async function packDependencies(
  root: string,
  dest: string,
  env: NodeJS.ProcessEnv,
): Promise<string[]> {
  const copies = join(dest, "sources");
  await mkdir(copies, { recursive: true });
  const dirs = new Map<string, string>();
  const pending: [string, string][] = Object.keys(readManifest(root).dependencies ?? {}).map(
    (name) => [name, root],
  );
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const [name, from] = next;
    if (dirs.has(name)) continue;
    // Where `require` from `from` finds it: its own node_modules, else the repository's.
    const nested = join(from, "node_modules", name);
    const dir = existsSync(nested) ? nested : join(root, "node_modules", name);
    if (!existsSync(join(dir, "package.json")))
      throw new Error(`Expected ${name} installed in ${dir} (run \`npm ci\`), found nothing`);
    const manifest = readManifest(dir);
    const copy = join(copies, name);
    cpSync(dir, copy, {
      recursive: true,
      dereference: true,
      filter: (source) => !relative(dir, source).split(sep).includes("node_modules"),
    });
    if (manifest.scripts?.prepare !== undefined) {
      delete manifest.scripts.prepare;
      writeFileSync(join(copy, "package.json"), `${JSON.stringify(manifest, null, 2)}\n`);
    }
    dirs.set(name, copy);
    for (const dep of Object.keys(manifest.dependencies ?? {})) pending.push([dep, dir]);
  }
  if (dirs.size === 0) return [];
  const packed = await run(
    "npm",
    ["pack", ...dirs.values(), "--ignore-scripts", "--json", "--pack-destination", dest],
    { cwd: dest, env, timeoutMs: 120_000 },
  );
  if (packed.code !== 0) throw new Error(`npm pack of the dependencies failed:\n${packed.stderr}`);
  return (JSON.parse(packed.stdout) as { filename: string }[]).map(({ filename }) =>
    join(dest, filename),
  );
}
